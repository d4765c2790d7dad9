// Moving a store between a data dir and etcd: `bootcfg store import` and `bootcfg store export`.
// A key holds its file's bytes, so a round trip gives back the same files.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "etcd/etcd_client.hpp"

namespace bootcfg::etcd {

// Every object file of a matchbox-layout data dir as the key it goes under, or why the dir
// cannot be imported (its load problems, with lines, and anything etcd has no place for).
struct DirObjects {
    std::vector<KeyValue> objects;
    std::vector<std::string> problems;
};
DirObjects objects_of_data_dir(const std::string& dir, const std::string& prefix);

// The transactions that make etcd hold `objects` given what it holds now (`current`, a listing
// of the prefix): only keys that hold other bytes or nothing are written, each compared with
// the mod_revision listed; at most 128 operations and about 1 MiB per transaction (etcd's
// default --max-txn-ops and --max-request-bytes).
std::vector<std::vector<TxnOp>> import_batches(const std::vector<KeyValue>& objects,
                                               const Listing& current);

struct Transfer {
    std::size_t written = 0, unchanged = 0, transactions = 0;
    std::vector<std::string> skipped;  // keys left out (export: outside the layout)
};

// Validates `dir`, then writes what differs. Failure: the dir's problems (one per line), etcd's
// refusal, or a key changed by someone else meanwhile (running it again is safe).
Result<Transfer> import_data_dir(const Client& client, const std::string& dir,
                                 const std::string& prefix);

// Writes every object under `prefix` into `dir` (new or empty) as a data dir file.
Result<Transfer> export_data_dir(const Client& client, const std::string& prefix,
                                 const std::string& dir);

}  // namespace bootcfg::etcd

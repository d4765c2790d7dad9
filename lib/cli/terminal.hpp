// Text for a person at a terminal. Names, versions, device fields and error text come from
// archives and servers: an ESC sequence, an OSC title, a '\r' or a C1 control in them must
// show as text, never act on the terminal.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace bootcfg {

// C0 controls (but '\n' and '\t' when keep_lines), DEL and invalid UTF-8 bytes as \xNN, C1
// controls (U+0080..U+009F) as \u00NN; valid UTF-8 text as is.
std::string terminal_safe(std::string_view text, bool keep_lines = true);

// `real` when it is not a terminal; otherwise a stream that writes terminal_safe() text to it
// (close it with std::fclose before exit: that flushes it and frees the filter).
std::FILE* terminal_stream(std::FILE* real);

// stdout and stderr through terminal_stream for the life of this object.
class TerminalOutput {
  public:
    TerminalOutput() : out(terminal_stream(stdout)), err(terminal_stream(stderr)) {}
    ~TerminalOutput();
    TerminalOutput(const TerminalOutput&) = delete;
    TerminalOutput& operator=(const TerminalOutput&) = delete;
    std::FILE* const out;
    std::FILE* const err;
};

// The terminal behind `stream` (seeing through terminal_stream), or -1 when it is none.
int terminal_fd(std::FILE* stream);

}  // namespace bootcfg

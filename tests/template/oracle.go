// Test oracle only: renders tests/template/corpus.json with Go's own text/template, the way
// matchbox does (JSON data decoded into interface{}, missingkey=error), in the format
// render_corpus.cpp writes, so the two outputs can be compared byte for byte.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"
)

type testCase struct {
	Name     string      `json:"name"`
	Template string      `json:"template"`
	Data     interface{} `json:"data"`
}

func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var cases []testCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, c := range cases {
		tmpl, err := template.New(c.Name).Option("missingkey=error").Parse(c.Template)
		if err != nil {
			fmt.Printf("=== %s parse-error\n", c.Name)
			continue
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, c.Data); err != nil {
			fmt.Printf("=== %s exec-error\n", c.Name)
			continue
		}
		fmt.Printf("=== %s ok %d\n%s\n", c.Name, buf.Len(), buf.String())
	}
}

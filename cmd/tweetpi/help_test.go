package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestHelpGolden: `tweetpi -h` and each command's -h print what
// testdata/help/*.golden hold (stdout and stderr, exit 0). A changed flag
// or summary shows up here; go test -run HelpGolden -update rewrites them.
func TestHelpGolden(t *testing.T) {
	cases := map[string][]string{"tweetpi": {"-h"}}
	for _, c := range commands() {
		cases[c.name] = []string{c.name, "-h"}
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
			if code := exitCode(err, &stderr); code != exitOK {
				t.Errorf("tweetpi %s: exit %d", strings.Join(args, " "), code)
			}
			got := "$ tweetpi " + strings.Join(args, " ") + "\n" + stdout.String() + stderr.String()
			path := filepath.Join("testdata", "help", name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -run HelpGolden -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("tweetpi %s printed\n%s\nwant (%s; -update rewrites it)\n%s", strings.Join(args, " "), got, path, want)
			}
		})
	}
	// Every golden file is a command's: none is left of a removed one.
	files, _ := filepath.Glob(filepath.Join("testdata", "help", "*.golden"))
	for _, f := range files {
		if _, ok := cases[strings.TrimSuffix(filepath.Base(f), ".golden")]; !ok {
			t.Errorf("%s: no such command; remove the file", f)
		}
	}
}

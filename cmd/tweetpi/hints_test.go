package main

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestHintsNameRealCommands: messages and documents tell users what to run
// ("tweetpi pins -v shows the drivers", "run tweetpi verify"). Every such
// hint in the program's strings, the README, the unit and the example
// config must name a command that exists, with flags that command has; one
// once sent users to "tweetpi -v", which is no command.
func TestHintsNameRealCommands(t *testing.T) {
	// "tweetpi" then a flag, or a command and its flags; not prose such as
	// "to try tweetpi without a Pi".
	hint := regexp.MustCompile(`tweetpi( -[a-z-]+| (auth|check|demo|do|pins|run|safe|verify|version)\b( -[a-z-]+)*)`)
	var files []string
	for _, dir := range []string{".", "../../config", "../../device", "../../twitter"} {
		m, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	type text struct{ where, s string }
	var texts []text
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					texts = append(texts, text{fset.Position(lit.Pos()).String(), s})
				}
			}
			return true
		})
	}
	// The documents a user reads say what to run too.
	for _, f := range []string{"../../README.md", "../../deploy/tweetpi.service", "../../deploy/config.example.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			texts = append(texts, text{fmt.Sprintf("%s:%d", f, i+1), line})
		}
	}
	checked := 0
	for _, x := range texts {
		for _, m := range hint.FindAllStringIndex(x.s, -1) {
			if strings.HasSuffix(x.s[:m[0]], "-u ") {
				continue // the unit's name: journalctl -u tweetpi -f
			}
			c := x.s[m[0]:m[1]]
			checked++
			where := x.where
			args := strings.Fields(c)[1:]
			if strings.HasPrefix(args[0], "-") {
				// Only a flag tweetpi itself takes: -h.
				if _, stderr, code := runCmd(context.Background(), args...); code != 0 {
					t.Errorf("%s: %q exits %d: %s", where, c, code, strings.TrimSpace(stderr))
				}
				continue
			}
			help, stderr, code := runCmd(context.Background(), args[0], "-h")
			if code != 0 {
				t.Errorf("%s: %q: tweetpi %s -h exits %d\n%s", where, c, args[0], code, stderr)
				continue
			}
			for _, flag := range args[1:] {
				if !strings.Contains(help+stderr, "  "+flag) {
					t.Errorf("%s: %q: tweetpi %s has no flag %s", where, c, args[0], flag)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("found no hint to check; the pattern or the file list is wrong")
	}
	t.Logf("%d hints checked", checked)
}

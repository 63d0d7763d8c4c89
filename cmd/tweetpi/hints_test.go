package main

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestHintsNameRealCommands: messages tell users what to run ("tweetpi pins
// -v shows the drivers", "run tweetpi verify"). Every such hint in the
// program's strings must name a command that exists, with flags that
// command has; one once sent users to "tweetpi -v", which is no command.
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
	checked := 0
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
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, c := range hint.FindAllString(s, -1) {
				checked++
				where := fset.Position(lit.Pos()).String()
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
			return true
		})
	}
	if checked == 0 {
		t.Fatal("found no hint to check; the pattern or the file list is wrong")
	}
	t.Logf("%d hints checked", checked)
}

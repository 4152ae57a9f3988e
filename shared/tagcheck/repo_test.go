package tagcheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestRepositoryTags reads every Go file of the module, tests included, and
// requires every validate tag on a struct field to parse: an unsupported tag would
// otherwise panic only when its type is first checked, in production.
func TestRepositoryTags(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	var tags int
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				name == "vendor" || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			st, ok := n.(*ast.StructType)
			if !ok {
				return true
			}
			for _, field := range st.Fields.List {
				if field.Tag == nil {
					continue
				}
				raw, err := strconv.Unquote(field.Tag.Value)
				if err != nil {
					t.Errorf("%s: tag %s: %v", fset.Position(field.Pos()), field.Tag.Value, err)
					continue
				}
				tag, ok := reflect.StructTag(raw).Lookup("validate")
				if !ok || tag == "-" {
					continue
				}
				tags++
				rules, err := parse(tag)
				if err != nil {
					t.Errorf("%s: %v", fset.Position(field.Pos()), err)
				}
				for _, r := range rules {
					seen[r.name] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk must have found the repository's tags, or it checked nothing.
	for _, name := range []string{"required", "dive", "http_url", "bcp47_language_tag", "printascii"} {
		if !seen[name] {
			t.Errorf("no %s tag found under %s: the walk missed the repository", name, root)
		}
	}
	t.Logf("%d validate tags under %s", tags, root)
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

package main

import (
	"os"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// The schema only grows: nothing a client may rely on in the baseline (a
// released contract) is removed or changed, and no new argument or input
// field is required. When a break is intended, say so in the change and copy
// schema.graphqls over testdata/schema.baseline.graphqls.
func TestSchemaHasNoBreakingChanges(t *testing.T) {
	load := func(path string) *ast.Schema {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s, gerr := gqlparser.LoadSchema(&ast.Source{Name: path, Input: string(b)})
		if gerr != nil {
			t.Fatalf("%s: %v", path, gerr)
		}
		return s
	}
	old, cur := load("testdata/schema.baseline.graphqls"), load("schema.graphqls")
	for name, ot := range old.Types {
		if ot.BuiltIn {
			continue
		}
		ct := cur.Types[name]
		if ct == nil || ct.Kind != ot.Kind {
			t.Errorf("type %s was removed or changed kind", name)
			continue
		}
		for _, v := range ot.EnumValues {
			if ct.EnumValues.ForName(v.Name) == nil {
				t.Errorf("enum value %s.%s was removed", name, v.Name)
			}
		}
		for _, of := range ot.Fields {
			cf := ct.Fields.ForName(of.Name)
			if cf == nil {
				t.Errorf("field %s.%s was removed", name, of.Name)
				continue
			}
			if cf.Type.String() != of.Type.String() {
				t.Errorf("field %s.%s changed type from %s to %s", name, of.Name, of.Type, cf.Type)
			}
			for _, oa := range of.Arguments {
				if ca := cf.Arguments.ForName(oa.Name); ca == nil || ca.Type.String() != oa.Type.String() {
					t.Errorf("argument %s.%s(%s) was removed or changed", name, of.Name, oa.Name)
				}
			}
			for _, ca := range cf.Arguments {
				if of.Arguments.ForName(ca.Name) == nil && ca.Type.NonNull && ca.DefaultValue == nil {
					t.Errorf("new required argument %s.%s(%s)", name, of.Name, ca.Name)
				}
			}
		}
		if ot.Kind == ast.InputObject {
			for _, cf := range ct.Fields {
				if ot.Fields.ForName(cf.Name) == nil && cf.Type.NonNull && cf.DefaultValue == nil {
					t.Errorf("new required input field %s.%s", name, cf.Name)
				}
			}
		}
	}
}

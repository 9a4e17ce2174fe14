package spec

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical HCL layout. A file that does not parse is
// returned as diagnostics, never reformatted; so is one beyond the size and
// nesting limits, before the parser sees it.
func Format(filename string, src []byte) ([]byte, hcl.Diagnostics) {
	if diags := checkBounds(filename, src); diags.HasErrors() {
		return nil, diags
	}
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}

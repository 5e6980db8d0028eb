package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenAPI checks that the served document lists every endpoint with
// bearer security and its error responses as problems, that every $ref
// resolves, and, where openapi-spec-validator is installed, that the
// document is valid OpenAPI 3.1.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := http.Get(b.url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/openapi.json = %d, %v", resp.StatusCode, err)
	}
	type operation struct {
		Security  []map[string][]string     `json:"security"`
		Responses map[string]map[string]any `json:"responses"`
	}
	var doc struct {
		Paths map[string]map[string]operation `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}

	// Every endpoint of this issue, with the errors it must document.
	for _, want := range []struct {
		method, path string
		errors       []string
	}{
		{"post", "/v1/users", []string{"409", "422"}},
		{"get", "/v1/users", []string{"400", "422"}},
		{"get", "/v1/users/{id}", []string{"404", "422"}},
		{"delete", "/v1/users/{id}", []string{"404", "422"}},
		{"get", "/v1/me", []string{"404"}},
		{"post", "/v1/devices", []string{"409", "422"}},
		{"get", "/v1/devices", []string{"422"}},
		{"get", "/v1/devices/{id}", []string{"404", "422"}},
		{"patch", "/v1/devices/{id}", []string{"404", "422"}},
		{"post", "/v1/devices/{id}/deactivate", []string{"404", "422"}},
		{"post", "/v1/devices/{id}/readings", []string{"404", "409", "422"}},
		{"post", "/v1/devices/{id}/readings/batch", []string{"404", "409", "413", "422"}},
		{"get", "/v1/devices/{id}/readings", []string{"400", "404", "422"}},
		{"get", "/v1/devices/{id}/readings/latest", []string{"404", "422"}},
		{"get", "/v1/readings/latest", nil},
		{"get", "/v1/devices/{id}/readings/hourly", []string{"404", "422"}},
		{"get", "/v1/devices/{id}/readings/export", []string{"404", "422"}},
	} {
		op, ok := doc.Paths[want.path][want.method]
		if !ok {
			t.Errorf("%s %s is not in the document", strings.ToUpper(want.method), want.path)
			continue
		}
		if len(op.Security) != 1 || op.Security[0]["bearer"] == nil {
			t.Errorf("%s %s: security = %v", want.method, want.path, op.Security)
		}
		for _, code := range append(want.errors, "401", "403", "500", "default") {
			r, ok := op.Responses[code]
			if !ok {
				t.Errorf("%s %s: no %s response", want.method, want.path, code)
				continue
			}
			if content, _ := r["content"].(map[string]any); content["application/problem+json"] == nil {
				t.Errorf("%s %s: %s response is not a problem: %v", want.method, want.path, code, r)
			}
		}
	}
	if r := doc.Paths["/v1/devices/{id}/readings"]["post"].Responses; r["200"] == nil || r["201"] == nil {
		t.Errorf("single ingestion must document 201 (stored) and 200 (duplicate): %v", r)
	}
	content, _ := doc.Paths["/v1/devices/{id}/readings/export"]["get"].Responses["200"]["content"].(map[string]any)
	if content["text/csv"] == nil || content["application/x-ndjson"] == nil {
		t.Errorf("export 200 content = %v, want text/csv and application/x-ndjson", content)
	}

	checkRefs(t, raw)
	validateSpec(t, raw)
}

// checkRefs fails the test for any $ref that does not resolve in the
// document.
func checkRefs(t *testing.T, raw []byte) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	schemas, _ := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				name, found := strings.CutPrefix(ref, "#/components/schemas/")
				if !found || schemas[name] == nil {
					t.Errorf("unresolved $ref %q", ref)
				}
			}
			for _, child := range v {
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
}

// validateSpec runs openapi-spec-validator (Python) on the document when it
// is installed, as it is on the project's machines.
func validateSpec(t *testing.T, raw []byte) {
	t.Helper()
	bin, err := exec.LookPath("openapi-spec-validator")
	if err != nil {
		t.Log("openapi-spec-validator not installed; structural checks only")
		return
	}
	file := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, file).CombinedOutput(); err != nil {
		t.Errorf("openapi-spec-validator: %v\n%s", err, out)
	}
}

package anonymize

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmtune/llmtune/internal/testutil"
)

// The llmtune anonymize command end to end: JSONL in and out, spans, the
// report (counts only, mode 0600) and plain text on stdin.
func TestCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := testutil.Binary(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(`{"id":"a","text":"Dear Mr. Iyer, your PAN ABCPK1234Q is linked.","tag":7}`+"\n"), 0o600)
	out, rep := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "report.json")
	cmd := exec.Command(bin, "anonymize", "--input", in, "--out", out, "--report", rep, "-q")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	got, _ := os.ReadFile(out)
	if want := `{"id":"a","text":"Dear Mr. <PERSON_1>, your PAN <PAN_1> is linked.","tag":7}` + "\n"; string(got) != want {
		t.Errorf("output %s", got)
	}
	st, _ := os.Stat(out)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("output mode %v", st.Mode())
	}
	rb, _ := os.ReadFile(rep)
	var r Report
	if err := json.Unmarshal(rb, &r); err != nil || r.Entities["PERSON"] != 1 || r.Entities["PAN"] != 1 || strings.Contains(string(rb), "Iyer") {
		t.Errorf("report %s (%v)", rb, err)
	}
	cmd = exec.Command(bin, "anonymize", "--input", in, "--spans", "-q")
	b, err := cmd.Output()
	if err != nil || !strings.HasPrefix(string(b), `{"id":"a","spans":[{"start":9,"end":13,"type":"PERSON"`) {
		t.Errorf("spans: %s %v", b, err)
	}
	cmd = exec.Command(bin, "anonymize", "--format", "text", "-q")
	cmd.Stdin = strings.NewReader("call 9845012345\n")
	if b, err := cmd.Output(); err != nil || string(b) != "call <PHONE_1>\n" {
		t.Errorf("text: %q %v", b, err)
	}
	os.WriteFile(in, []byte("{\"text\":\"ok\"}\nnot json Iyer\n"), 0o600)
	cmd = exec.Command(bin, "anonymize", "--input", in, "--out", out)
	b, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "line 2") || strings.Contains(string(b), "Iyer") {
		t.Errorf("bad input: %s %v", b, err)
	}
}

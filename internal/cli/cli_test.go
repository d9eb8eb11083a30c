package cli

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestCodes(t *testing.T) {
	if CodeOf(nil) != ExitOK || CodeOf(errors.New("x")) != ExitFailure {
		t.Fatal("plain codes")
	}
	if CodeOf(fmt.Errorf("wrapped: %w", Usagef("bad"))) != ExitUsage {
		t.Fatal("usage code lost through wrapping")
	}
	if CodeOf(WithCode(ExitNothingToDo, errors.New("nothing"))) != ExitNothingToDo {
		t.Fatal("nothing-to-do code")
	}
}

func TestOutputStreams(t *testing.T) {
	var out, errb bytes.Buffer
	o := &Output{Stdout: &out, Stderr: &errb, JSON: true}
	o.Infof("hello %d", 1)
	p := o.NewProgress("x", 10, "rec")
	p.Add(5)
	p.Finish()
	if err := o.Result(map[string]int{"n": 1}, nil); err != nil {
		t.Fatal(err)
	}
	if out.String() != "{\"n\":1}\n" {
		t.Fatalf("stdout %q", out.String())
	}
	if errb.String() != "hello 1\n" {
		t.Fatalf("stderr %q (progress must not draw off a terminal)", errb.String())
	}
	errb.Reset()
	o.Quiet = true
	o.Infof("hidden")
	o.Warnf("shown")
	if errb.String() != "warning: shown\n" {
		t.Fatalf("quiet stderr %q", errb.String())
	}
}

package tokenize

import (
	"runtime"
	"slices"
	"testing"
)

// Reference ids below come from tok_ref.mjs (js-tiktoken r50k_base, specials
// as plain text): "Hello world" = [15496 995], "Hello world!" = [15496 995 0],
// "user: Hi\nassistant: Hello\n" = [7220 25 15902 198 562 10167 25 18435 198].
const E = 50256

func TestPack(t *testing.T) {
	tok := testTokenizer(t)
	doc := func(s string) []Segment { return []Segment{{Text: s, Train: true}} }
	chat := []Segment{{Text: "user: "}, {Text: "Hi\n"}, {Text: "assistant: "}, {Text: "Hello\n", Train: true}}
	type blk struct {
		in, tg []int32
		mask   []float32
	}
	tests := []struct {
		name   string
		ex     [][]Segment
		o      PackOptions
		want   []blk
		wantSt PackStats
	}{
		{
			name: "documents joined with EOS, tail padded",
			ex:   [][]Segment{doc("Hello world"), doc(""), doc("Hello world!")},
			o:    PackOptions{Seq: 4},
			want: []blk{
				{[]int32{E, 15496, 995, E}, []int32{15496, 995, E, 15496}, []float32{1, 1, 1, 1}},
				{[]int32{15496, 995, 0, E}, []int32{995, 0, E, E}, []float32{1, 1, 1, 0}},
			},
			wantSt: PackStats{Examples: 3, Blocks: 2, Tokens: 7, TrainedTokens: 7},
		},
		{
			name: "one example per block",
			ex:   [][]Segment{doc("Hello world"), doc("Hello world!")},
			o:    PackOptions{Seq: 5, OneExamplePerBlock: true},
			want: []blk{
				{[]int32{E, 15496, 995, E, E}, []int32{15496, 995, E, E, E}, []float32{1, 1, 1, 0, 0}},
				{[]int32{E, 15496, 995, 0, E}, []int32{15496, 995, 0, E, E}, []float32{1, 1, 1, 1, 0}},
			},
			wantSt: PackStats{Examples: 2, Blocks: 2, Tokens: 7, TrainedTokens: 7},
		},
		{
			name: "prompt/completion trains the completion and EOS",
			ex:   [][]Segment{{{Text: "Hello"}, {Text: " world", Train: true}}},
			o:    PackOptions{Seq: 4},
			want: []blk{
				{[]int32{E, 15496, 995, E}, []int32{15496, 995, E, E}, []float32{0, 1, 1, 0}},
			},
			wantSt: PackStats{Examples: 1, Blocks: 1, Tokens: 3, TrainedTokens: 2},
		},
		{
			name: "a token reaching into the completion is trained",
			ex:   [][]Segment{{{Text: "Hello "}, {Text: "world", Train: true}}},
			o:    PackOptions{Seq: 3},
			want: []blk{
				{[]int32{E, 15496, 995}, []int32{15496, 995, E}, []float32{0, 1, 1}},
			},
			wantSt: PackStats{Examples: 1, Blocks: 1, Tokens: 3, TrainedTokens: 2},
		},
		{
			name: "train on prompt",
			ex:   [][]Segment{{{Text: "Hello"}, {Text: " world", Train: true}}},
			o:    PackOptions{Seq: 3, TrainOnPrompt: true},
			want: []blk{
				{[]int32{E, 15496, 995}, []int32{15496, 995, E}, []float32{1, 1, 1}},
			},
			wantSt: PackStats{Examples: 1, Blocks: 1, Tokens: 3, TrainedTokens: 3},
		},
		{
			name: "truncated and counted",
			ex:   [][]Segment{{{Text: "Hello"}, {Text: " world", Train: true}}, {{Text: "Hello"}, {Text: " world", Train: true}}},
			o:    PackOptions{Seq: 2},
			want: []blk{
				{[]int32{E, 15496}, []int32{15496, 995}, []float32{0, 1}},
				{[]int32{E, 15496}, []int32{15496, 995}, []float32{0, 1}},
			},
			wantSt: PackStats{Examples: 2, Blocks: 2, Tokens: 4, TrainedTokens: 2, Truncated: 2},
		},
		{
			name: "chat trains assistant turns only",
			ex:   [][]Segment{chat},
			o:    PackOptions{Seq: 12},
			want: []blk{{
				[]int32{E, 7220, 25, 15902, 198, 562, 10167, 25, 18435, 198, E, E},
				[]int32{7220, 25, 15902, 198, 562, 10167, 25, 18435, 198, E, E, E},
				[]float32{0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0},
			}},
			wantSt: PackStats{Examples: 1, Blocks: 1, Tokens: 10, TrainedTokens: 3},
		},
		{
			name: "documents and chats mixed",
			ex:   [][]Segment{doc("Hello world"), {{Text: "Hello"}, {Text: " world", Train: true}}, doc("Hello world!")},
			o:    PackOptions{Seq: 8},
			want: []blk{
				{[]int32{E, 15496, 995, E, E, E, E, E}, []int32{15496, 995, E, E, E, E, E, E}, []float32{0, 1, 1, 0, 0, 0, 0, 0}},
				{[]int32{E, 15496, 995, E, 15496, 995, 0, E}, []int32{15496, 995, E, 15496, 995, 0, E, E}, []float32{1, 1, 1, 1, 1, 1, 1, 0}},
			},
			wantSt: PackStats{Examples: 3, Blocks: 2, Tokens: 10, TrainedTokens: 9},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blocks, st := tok.Pack(tc.ex, tc.o)
			if st != tc.wantSt {
				t.Errorf("stats %+v, want %+v", st, tc.wantSt)
			}
			if len(blocks) != len(tc.want) {
				t.Fatalf("%d blocks, want %d", len(blocks), len(tc.want))
			}
			for i, b := range blocks {
				w := tc.want[i]
				if !slices.Equal(b.Inputs, w.in) || !slices.Equal(b.Targets, w.tg) || !slices.Equal(b.Mask, w.mask) {
					t.Errorf("block %d:\n got %v %v %v\nwant %v %v %v", i, b.Inputs, b.Targets, b.Mask, w.in, w.tg, w.mask)
				}
			}
		})
	}
}

func TestPackLongDocumentSpansBlocks(t *testing.T) {
	tok := testTokenizer(t)
	text := ""
	for i := 0; i < 50; i++ {
		text += "Hello world"
	}
	check := func(name string) {
		blocks, st := tok.Pack([][]Segment{{{Text: text, Train: true}}}, PackOptions{Seq: 16})
		// tok_ref.mjs: the text is 100 tokens; EOS + 100 + EOS = 102 tokens: 101 targets, 16 per block.
		if st.Tokens != 101 || st.TrainedTokens != 101 || st.Truncated != 0 || st.Blocks != 7 || len(blocks) != 7 {
			t.Fatalf("%s: stats %+v", name, st)
		}
		for i := 1; i < len(blocks); i++ {
			if blocks[i].Inputs[0] != blocks[i-1].Targets[15] {
				t.Fatalf("%s: block %d does not continue block %d", name, i, i-1)
			}
		}
		if blocks[0].Inputs[0] != E || blocks[0].Inputs[1] != 15496 || blocks[6].Targets[4] != E || blocks[6].Mask[4] != 1 || blocks[6].Mask[5] != 0 {
			t.Fatalf("%s: ends wrong: %v / %v %v", name, blocks[0].Inputs, blocks[6].Targets, blocks[6].Mask)
		}
	}
	check("sequential")
	defer func(pm, cs int) { parallelMin, chunkSize = pm, cs }(parallelMin, chunkSize)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	parallelMin, chunkSize = 64, 40
	check("parallel chunks")
}

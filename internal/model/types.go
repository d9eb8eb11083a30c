package model

// Model is a GPT-2 checkpoint in memory: its configuration and every
// parameter in one contiguous buffer described by Layout (HF names and
// storage shapes). Load, Init and Save fill and write it; the network,
// trainer and generator read Params through Layout.
type Model struct {
	Config Config
	Layout *Layout
	Params []float32 // len Layout.Total
}

// LoRAConfig describes low-rank adapters as PEFT does: rank r, scaling
// alpha/r, dropout on the adapter input, and the target module names
// (default ["c_attn"], matched by suffix: "c_proj" hits attn and mlp).
type LoRAConfig struct {
	Rank    int
	Alpha   float64
	Dropout float64
	Targets []string
}

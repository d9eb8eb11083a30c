"""PyTorch counterpart of BenchmarkGenerate124M: batch-1 greedy decoding with a
key/value cache, 128 new tokens after a 128-token prompt, on the reference
GPT-2 (../shared/ref/gpt2_ref.py, eager attention). Prints one JSON line.

  /usr/bin/python3 internal/model/bench_generate_torch.py --model /tmp/m124 --threads 2
"""
import argparse, json, math, os, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--ref", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "ref"))
a = ap.parse_args()
for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[k] = str(a.threads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, a.ref)
import torch
import torch.nn.functional as F
from gpt2_ref import load_model_dir, gelu_new

torch.set_num_threads(a.threads)
m = load_model_dir(a.model).eval()
cfg = m.config
H, C = cfg.n_head, cfg.n_embd
D = C // H


@torch.no_grad()
def step(ids, pos, cache):
    T = ids.shape[0]
    x = m.wte(ids) + m.wpe(torch.arange(pos, pos + T))
    for l, blk in enumerate(m.h):
        q, k, v = blk.attn.c_attn(blk.ln_1(x)).split(C, dim=1)
        k, v = k.view(T, H, D).transpose(0, 1), v.view(T, H, D).transpose(0, 1)
        if cache[l] is not None:
            k, v = torch.cat([cache[l][0], k], 1), torch.cat([cache[l][1], v], 1)
        cache[l] = (k, v)
        q = q.view(T, H, D).transpose(0, 1)
        w = q @ k.transpose(-1, -2) / math.sqrt(D)
        S = k.shape[1]
        mask = torch.ones(T, S, dtype=torch.bool).tril(S - T)
        w = torch.where(mask, w, torch.finfo(w.dtype).min).softmax(-1)
        y = (w @ v).transpose(0, 1).reshape(T, C)
        x = x + blk.attn.c_proj(y)
        x = x + blk.mlp.c_proj(gelu_new(blk.mlp.c_fc(blk.ln_2(x))))
    return F.linear(m.ln_f(x[-1:]), m.wte.weight)[0]


prompt = torch.tensor([i * 389 % cfg.vocab_size for i in range(128)])
runs = []
for r in range(3):
    cache = [None] * cfg.n_layer
    t0 = time.time()
    logits = step(prompt, 0, cache)
    pos = 128
    for _ in range(128):
        tok = int(logits.argmax())
        logits = step(torch.tensor([tok]), pos, cache)
        pos += 1
    runs.append(time.time() - t0)
best = sorted(runs)[len(runs) // 2]
print(json.dumps({"bench": "pytorch_generate", "threads": a.threads, "new_tokens": 128, "prompt": 128,
                  "tokens_per_s": round(128 / best, 2), "runs_s": [round(x, 3) for x in runs],
                  "loadavg": os.getloadavg()}))

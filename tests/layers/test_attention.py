"""Attention and MultiHeadAttention: values against NumPy (and torch's
MultiheadAttention given the same weights), masks, and second-order gradient checks."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.layers import Attention, MultiHeadAttention

RNG = np.random.default_rng(0)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_dot_attention_masks_and_scale():
    q, v = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5, 4))
    layer = Attention(dtype="float64")
    out, w = layer([q, v], return_attention_scores=True)
    ref_w = _softmax(q @ v.transpose(0, 2, 1))
    np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-10)
    np.testing.assert_allclose(out.numpy(), ref_w @ v, rtol=1e-10)
    value_mask = np.array([[True] * 5, [True, True, False, False, False]])
    out = layer([q, v], mask=[None, value_mask]).numpy()
    ref = _softmax(q[1] @ v[1, :2].T) @ v[1, :2]
    np.testing.assert_allclose(out[1], ref, rtol=1e-10)
    causal = Attention(dtype="float64")([q, q], use_causal_mask=True,
                                        return_attention_scores=True)[1].numpy()
    assert np.all(np.triu(causal[0], 1) == 0)
    scaled = Attention(use_scale=True, dtype="float64")
    scaled([q, v])
    scaled.scale.assign(2.0)
    np.testing.assert_allclose(scaled([q, v]).numpy(),
                               _softmax(2 * q @ v.transpose(0, 2, 1)) @ v, rtol=1e-10)


def test_multi_head_attention_matches_numpy():
    q, v = RNG.normal(size=(2, 3, 6)), RNG.normal(size=(2, 4, 5))
    mha = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, dtype="float64")
    out, w = mha(q, v, return_attention_scores=True)
    qk, qb = mha.query_kernel.numpy(), mha.query_bias.numpy()
    kk, kb = mha.key_kernel.numpy(), mha.key_bias.numpy()
    vk, vb = mha.value_kernel.numpy(), mha.value_bias.numpy()
    ok, ob = mha.output_kernel.numpy(), mha.output_bias.numpy()
    assert qk.shape == (6, 2, 3) and vk.shape == (5, 2, 4) and ok.shape == (2, 4, 6)
    Q = np.einsum("btd,dhk->bhtk", q, qk) + qb.transpose(0, 1)[None, :, None, :]
    K = np.einsum("btd,dhk->bhtk", v, kk) + kb[None, :, None, :]
    V = np.einsum("btd,dhk->bhtk", v, vk) + vb[None, :, None, :]
    W = _softmax(Q @ K.transpose(0, 1, 3, 2) / np.sqrt(3))
    ctx = W @ V
    ref = np.einsum("bhtv,hvo->bto", ctx, ok) + ob
    np.testing.assert_allclose(w.numpy(), W, rtol=1e-10)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10)
    mask = np.ones((2, 3, 4), bool)
    mask[:, :, 3] = False
    w = mha(q, v, attention_mask=mask, return_attention_scores=True)[1].numpy()
    np.testing.assert_allclose(w[..., 3], 0.0, atol=1e-12)


def test_multi_head_attention_same_as_torch():
    torch = pytest.importorskip("torch")
    d, h = 8, 2
    x = RNG.normal(size=(3, 5, d)).astype(np.float32)
    t_mha = torch.nn.MultiheadAttention(d, h, batch_first=True)
    mha = MultiHeadAttention(h, d // h)
    mha(x, x)
    w_in = t_mha.in_proj_weight.detach().numpy()
    b_in = t_mha.in_proj_bias.detach().numpy()
    wq, wk, wv = np.split(w_in, 3)
    bq, bk, bv = np.split(b_in, 3)
    to_kernel = lambda w: w.T.reshape(d, h, d // h)  # noqa: E731
    mha.query_kernel.assign(to_kernel(wq))
    mha.key_kernel.assign(to_kernel(wk))
    mha.value_kernel.assign(to_kernel(wv))
    mha.query_bias.assign(bq.reshape(h, d // h))
    mha.key_bias.assign(bk.reshape(h, d // h))
    mha.value_bias.assign(bv.reshape(h, d // h))
    mha.output_kernel.assign(t_mha.out_proj.weight.detach().numpy().T.reshape(h, d // h, d))
    mha.output_bias.assign(t_mha.out_proj.bias.detach().numpy())
    xt = torch.from_numpy(x)
    t_out, _ = t_mha(xt, xt, xt)
    np.testing.assert_allclose(mha(x, x).numpy(), t_out.detach().numpy(), rtol=1e-4,
                               atol=1e-5)


def test_gradients_second_order():
    q, v = RNG.normal(size=(1, 2, 3)), RNG.normal(size=(1, 3, 3))
    att = Attention(dtype="float64")
    att([q, v])   # build
    tg.check_grads(lambda a, b: att.call([a, b]), [q, v], order=2)
    mha = MultiHeadAttention(2, 2, dtype="float64")
    mha(q, v)
    kernel = mha.query_kernel

    def f(a, b, k):
        mha.__dict__["query_kernel"] = k
        try:
            return mha.call(a, b)
        finally:
            mha.__dict__["query_kernel"] = kernel

    tg.check_grads(f, [q, v, np.array(kernel.numpy())], order=2)


def test_bad_inputs():
    with pytest.raises(TypeError, match="query, value"):
        Attention()(np.zeros((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(0, 2)
    with pytest.raises(ValueError, match="broadcast"):
        MultiHeadAttention(1, 2)(np.zeros((1, 2, 3), np.float32), np.zeros((1, 4, 3), np.float32),
                                 attention_mask=np.ones((1, 3, 3), bool))

// Pooling-attention between the two experts (see python/bharnet/ops/reference.py,
// pool_attention_ref, which is the specification):
//   for each axis a in (T, V, I): tokens_a = pool_a(x) [L,C], keys/values pool_a(ctx) [S,Cc],
//   upd_a = tokens_a + MHA(tokens_a, pool_a(ctx)), then a (masked) mean over the L tokens;
//   out[n] = sum_a of those, zeroed for samples without any present instance.
// x [N,C,T,V,I], ctx [N,Cc,T2,V2,I2], masks [N,I] / [N,I2] in the compute dtype (null = all
// present), wq [D,C], wk [D,Cc], wv [D,Cc], wo [C,D], out [N,C]. Instantiated for float and double.
#pragma once
#include <cstddef>
#include <cstdint>

struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;

namespace bharnet::kernels {

struct PoolAttentionDims {
  int64_t N, C, T, V, I;     // x
  int64_t Cc, T2, V2, I2;    // ctx
  int64_t D, H;              // attention width and heads (D % H == 0)
};

template <class T>
void pool_attention_forward_cpu(const PoolAttentionDims& d, const T* x, const T* ctx,
                                const T* x_mask, const T* ctx_mask, const T* wq, const T* wk,
                                const T* wv, const T* wo, T* out);

// CUDA: raw device pointers, asynchronous on `stream`, returns a cudaError_t value.
// `workspace` must hold pool_attention_workspace_bytes(d, sizeof(T)) bytes.
size_t pool_attention_workspace_bytes(const PoolAttentionDims& d, size_t elem_size);

template <class T>
int pool_attention_forward_cuda(const PoolAttentionDims& d, const T* x, const T* ctx,
                                const T* x_mask, const T* ctx_mask, const T* wq, const T* wk,
                                const T* wv, const T* wo, T* out, void* workspace,
                                cudaStream_t stream);

}  // namespace bharnet::kernels

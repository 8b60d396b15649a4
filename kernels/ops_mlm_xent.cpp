// Entry points of mlm_xent_forward/backward: argument validation and dispatch (16-bit
// tensors on the CPU via their F32 views, kernels/f32_views.h).
#include <tuple>

#include "kernels/f32_views.h"
#include "kernels/cpu/mlm_xent.h"
#include "kernels/cuda/mlm_xent.cuh"
#include "kernels/dispatch.h"
#include "kernels/ops.h"

namespace masklm {
namespace {

// A (n) vector of the given dtype.
void check_vector(const Tensor& t, int64_t n, DType dtype, const char* name) {
  check_shape(t, {n}, name);
  check_dtype(t, dtype, name);
}

// Checks shared by the forward and the backward; h fixes (P, C) and the dtype.
void check_mlm_xent_args(const Tensor& h, const Tensor& emb, const Tensor& bias,
                         const Tensor& labels, int64_t chunk_size, const char* op) {
  MASKLM_CHECK(h.shape.ndim == 2, "{}: h must be (P, C), got {}", op, h.shape.str());
  MASKLM_CHECK(emb.shape.ndim == 2 && emb.size(1) == h.size(1),
               "{}: emb must be (V, C) with C = {} like h, got {}", op, h.size(1), emb.shape.str());
  const int64_t P = h.size(0), V = emb.size(0);
  MASKLM_CHECK(V > 0, "{}: the vocabulary is empty", op);
  MASKLM_CHECK(chunk_size > 0, "{}: chunk_size must be positive, got {}", op, chunk_size);
  check_dtype(emb, h.dtype, "emb");
  if (!bias.empty()) check_vector(bias, V, h.dtype, "bias");
  check_vector(labels, P, DType::I32, "labels");
  // Labels live in host memory on the CPU backend only; the CUDA path checks on device.
  if (labels.device == Device::CPU) {
    const int32_t* l = labels.ptr<int32_t>();
    for (int64_t p = 0; p < P; ++p)
      MASKLM_CHECK(0 <= l[p] && l[p] < V,
                   "{}: label {} of row {} is outside the vocabulary [0, {})", op, l[p], p, V);
  }
}

// Optional tensors and "not needed" gradients are empty; the CPU kernels take null for them.
template <typename T> T* data_or_null(const Tensor& t) { return t.empty() ? nullptr : t.ptr<T>(); }

}  // namespace

void mlm_xent_forward(Ctx& ctx, const Tensor& losses, const Tensor& lse, const Tensor& correct,
                      const Tensor& h, const Tensor& emb, const Tensor& bias, const Tensor& labels,
                      int64_t chunk_size) {
  constexpr const char* op = "mlm_xent_forward";
  check_device(ctx, {&losses, &lse, &correct, &h, &emb, &bias, &labels}, op);
  check_mlm_xent_args(h, emb, bias, labels, chunk_size, op);
  const int64_t P = h.size(0);
  check_vector(losses, P, accum_dtype(h.dtype), "losses");
  check_vector(lse, P, accum_dtype(h.dtype), "lse");
  if (!correct.empty()) check_vector(correct, P, DType::I32, "correct");
  if (run_on_cuda(
          ctx, h.dtype, op,
          [&](auto& cc) {
            cuda::mlm_xent_forward(cc, h.dtype, losses.ptr<float>(), lse.ptr<float>(),
                                   data_or_null<int32_t>(correct), h.data, emb.data, bias.data,
                                   labels.ptr<int32_t>(), P, h.size(1), emb.size(0), chunk_size);
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(h.dtype)) {  // losses, lse are F32 already
    F32Views f32(ctx);
    mlm_xent_forward(ctx, losses, lse, correct, f32.in(h), f32.in(emb), f32.in(bias), labels,
                     chunk_size);
    return;
  }
  dispatch_float(h.dtype, op, [&]<typename T>() {
    cpu::mlm_xent_forward(losses.ptr<T>(), lse.ptr<T>(), data_or_null<int32_t>(correct), h.ptr<T>(),
                          emb.ptr<T>(), data_or_null<T>(bias), labels.ptr<int32_t>(), P, h.size(1),
                          emb.size(0), chunk_size);
  });
}

void mlm_xent_backward(Ctx& ctx, const Tensor& dh, const Tensor& demb, const Tensor& dbias,
                       const Tensor& h, const Tensor& emb, const Tensor& bias, const Tensor& labels,
                       const Tensor& lse, double loss_scale, int64_t chunk_size) {
  constexpr const char* op = "mlm_xent_backward";
  check_device(ctx, {&dh, &demb, &dbias, &h, &emb, &bias, &labels, &lse}, op);
  check_mlm_xent_args(h, emb, bias, labels, chunk_size, op);
  const DType accum = accum_dtype(h.dtype);  // lse, and the parameter gradients demb and dbias
  check_vector(lse, h.size(0), accum, "lse");
  for (const auto& [grad, like, dtype, name] :
       {std::tuple{&dh, &h, h.dtype, "dh"}, std::tuple{&demb, &emb, accum, "demb"}}) {
    if (grad->empty()) continue;
    check_shape(*grad, like->shape, name);
    check_dtype(*grad, dtype, name);
  }
  if (!dbias.empty()) check_vector(dbias, emb.size(0), accum, "dbias");
  if (run_on_cuda(
          ctx, h.dtype, op,
          [&](auto& cc) {
            cuda::mlm_xent_backward(cc, h.dtype, dh.data, data_or_null<float>(demb),
                                    data_or_null<float>(dbias), h.data, emb.data, bias.data,
                                    labels.ptr<int32_t>(), lse.ptr<float>(), h.size(0), h.size(1),
                                    emb.size(0), static_cast<float>(loss_scale), chunk_size);
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(h.dtype)) {  // demb, dbias are F32 already
    F32Views f32(ctx);
    mlm_xent_backward(ctx, f32.inout(dh), demb, dbias, f32.in(h), f32.in(emb), f32.in(bias),
                      labels, lse, loss_scale, chunk_size);
    return;
  }
  dispatch_float(h.dtype, op, [&]<typename T>() {
    cpu::mlm_xent_backward(data_or_null<T>(dh), data_or_null<T>(demb), data_or_null<T>(dbias),
                           h.ptr<T>(), emb.ptr<T>(), data_or_null<T>(bias), labels.ptr<int32_t>(),
                           lse.ptr<T>(), h.size(0), h.size(1), emb.size(0),
                           static_cast<T>(loss_scale), chunk_size);
  });
}

}  // namespace masklm

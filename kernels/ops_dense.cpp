// Entry points of the dense ops (embedding, layernorm, matmul, elementwise, dropout, rows):
// validate the arguments, check devices, dispatch to cpu:: or cuda::. On the CPU, 16-bit
// tensors take one early branch: the op calls itself on their F32 views
// (kernels/f32_views.h), its arguments having been validated as given.
#include <climits>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/embedding.h"
#include "kernels/f32_views.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/rows.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/layernorm.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/rows.cuh"
#include "kernels/dispatch.h"
#include "kernels/ops.h"

namespace masklm {
namespace {

// A required argument: present, with this shape and dtype. Errors name the op and argument.
void expect(const char* op, const char* name, const Tensor& t, const Shape& shape, DType dtype) {
  MASKLM_CHECK(!t.empty() || shape.numel() == 0, "{}: {} is required but empty", op, name);
  MASKLM_CHECK(t.shape == shape, "{}: {} has shape {}, expected {}", op, name, t.shape.str(),
               shape.str());
  MASKLM_CHECK(t.dtype == dtype, "{}: {} has dtype {}, expected {}", op, name,
               dtype_name(t.dtype), dtype_name(dtype));
}

// An optional argument (a bias, a gradient that may not be needed): checked when given.
void expect_optional(const char* op, const char* name, const Tensor& t, const Shape& shape,
                     DType dtype) {
  if (!t.empty()) expect(op, name, t, shape, dtype);
}

// A 2-D argument with `cols` columns; returns its row count.
int64_t expect_rows(const char* op, const char* name, const Tensor& t, int64_t cols, DType dtype) {
  MASKLM_CHECK(t.shape.ndim == 2, "{}: {} must be 2-D (rows, {}), got shape {}", op, name, cols,
               t.shape.str());
  expect(op, name, t, {t.size(0), cols}, dtype);
  return t.size(0);
}

// The (rows, cols) of the 2-D argument that defines an op's sizes.
std::pair<int64_t, int64_t> matrix_dims(const char* op, const char* name, const Tensor& t) {
  MASKLM_CHECK(t.shape.ndim == 2, "{}: {} must be 2-D, got shape {}", op, name, t.shape.str());
  return {t.size(0), t.size(1)};
}

// Ids index table rows, so one out of range would read or write outside the table. Checked
// here on the CPU, where the ids are readable, and by the kernels on the GPU.
void check_ids_in_range(const char* op, const char* name, const Tensor& ids, int64_t limit) {
  const int32_t* id = ids.ptr<int32_t>();
  for (int64_t i = 0; i < ids.numel(); ++i)
    MASKLM_CHECK(id[i] >= 0 && id[i] < limit, "{}: {}[{}] = {} is outside [0, {})", op, name, i,
                 id[i], limit);
}

template <typename T> T* data_or_null(const Tensor& t) { return t.empty() ? nullptr : t.ptr<T>(); }

}  // namespace

// ---- embeddings ------------------------------------------------------------------

void embedding_forward(Ctx& ctx, const Tensor& out, const Tensor& tokens, const Tensor& positions,
                       const Tensor& types, const Tensor& wte, const Tensor& wpe, const Tensor& wtt) {
  const char* op = "embedding_forward";
  const auto [N, C] = matrix_dims(op, "out", out);
  const DType dt = out.dtype;
  expect(op, "tokens", tokens, {N}, DType::I32);
  expect(op, "positions", positions, {N}, DType::I32);
  MASKLM_CHECK(types.empty() == wtt.empty(), "{}: types and wtt go together (both or neither)", op);
  expect_optional(op, "types", types, {N}, DType::I32);
  const int64_t V = expect_rows(op, "wte", wte, C, dt);
  const int64_t max_positions = expect_rows(op, "wpe", wpe, C, dt);
  const int64_t type_vocab = wtt.empty() ? 0 : expect_rows(op, "wtt", wtt, C, dt);
  check_device(ctx, {&out, &tokens, &positions, &types, &wte, &wpe, &wtt}, op);
  if (run_on_cuda(
          ctx, dt, op,
          [&](auto& cc) {
            cuda::embedding_forward(cc, dt, out.data, tokens.ptr<int32_t>(), positions.ptr<int32_t>(),
                                    data_or_null<int32_t>(types), wte.data, wpe.data, wtt.data, N, C, V,
                                    max_positions, type_vocab);
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(dt)) {
    F32Views f32(ctx);
    embedding_forward(ctx, f32.out(out), tokens, positions, types, f32.in(wte), f32.in(wpe),
                      f32.in(wtt));
    return;
  }
  check_ids_in_range(op, "tokens", tokens, V);
  check_ids_in_range(op, "positions", positions, max_positions);
  if (!types.empty()) check_ids_in_range(op, "types", types, type_vocab);
  dispatch_float(dt, op, [&]<typename T>() {
    cpu::embedding_forward<T>(out.ptr<T>(), tokens.ptr<int32_t>(), positions.ptr<int32_t>(),
                              data_or_null<int32_t>(types), wte.ptr<T>(), wpe.ptr<T>(),
                              data_or_null<T>(wtt), N, C);
  });
}

void embedding_backward(Ctx& ctx, const Tensor& dwte, const Tensor& dwpe, const Tensor& dwtt,
                        const Tensor& dout, const Tensor& tokens, const Tensor& positions,
                        const Tensor& types) {
  const char* op = "embedding_backward";
  const auto [N, C] = matrix_dims(op, "dout", dout);
  const DType dt = dout.dtype;
  expect(op, "tokens", tokens, {N}, DType::I32);
  expect(op, "positions", positions, {N}, DType::I32);
  MASKLM_CHECK(dwtt.empty() || !types.empty(), "{}: dwtt is given but types is empty", op);
  expect_optional(op, "types", types, {N}, DType::I32);
  const DType grad_dt = accum_dtype(dt);  // table gradients go to the fp32 gradient buffer
  const int64_t V = dwte.empty() ? 0 : expect_rows(op, "dwte", dwte, C, grad_dt);
  const int64_t max_positions = dwpe.empty() ? 0 : expect_rows(op, "dwpe", dwpe, C, grad_dt);
  const int64_t type_vocab = dwtt.empty() ? 0 : expect_rows(op, "dwtt", dwtt, C, grad_dt);
  check_device(ctx, {&dwte, &dwpe, &dwtt, &dout, &tokens, &positions, &types}, op);
  if (run_on_cuda(
          ctx, dt, op,
          [&](auto& cc) {
            cuda::embedding_backward(cc, dt, data_or_null<float>(dwte), data_or_null<float>(dwpe),
                                     data_or_null<float>(dwtt), dout.data, tokens.ptr<int32_t>(),
                                     positions.ptr<int32_t>(), data_or_null<int32_t>(types), N, C, V,
                                     max_positions, type_vocab);
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(dt)) {  // the table gradients are F32 already
    F32Views f32(ctx);
    embedding_backward(ctx, dwte, dwpe, dwtt, f32.in(dout), tokens, positions, types);
    return;
  }
  if (!dwte.empty()) check_ids_in_range(op, "tokens", tokens, V);
  if (!dwpe.empty()) check_ids_in_range(op, "positions", positions, max_positions);
  if (!dwtt.empty()) check_ids_in_range(op, "types", types, type_vocab);
  dispatch_float(dt, op, [&]<typename T>() {
    cpu::embedding_backward<T>(data_or_null<T>(dwte), data_or_null<T>(dwpe), data_or_null<T>(dwtt),
                               dout.ptr<T>(), tokens.ptr<int32_t>(), positions.ptr<int32_t>(),
                               data_or_null<int32_t>(types), N, C);
  });
}

// ---- layernorm -------------------------------------------------------------------

namespace {

// The arguments of a LayerNorm forward over `in` (N, C), called in_name; returns (N, C).
std::pair<int64_t, int64_t> check_layernorm_forward(const char* op, const Tensor& out,
                                                    const Tensor& mean, const Tensor& rstd,
                                                    const char* in_name, const Tensor& in,
                                                    const Tensor& weight, const Tensor& bias,
                                                    double eps) {
  const auto [N, C] = matrix_dims(op, in_name, in);
  const DType dt = in.dtype;
  MASKLM_CHECK(C > 0, "{}: cannot normalize rows of 0 values", op);
  MASKLM_CHECK(eps >= 0, "{}: eps must be >= 0, got {}", op, eps);
  expect(op, "out", out, {N, C}, dt);
  expect(op, "mean", mean, {N}, accum_dtype(dt));
  expect(op, "rstd", rstd, {N}, accum_dtype(dt));
  expect(op, "weight", weight, {C}, dt);
  expect(op, "bias", bias, {C}, dt);
  return {N, C};
}

}  // namespace

void layernorm_forward(Ctx& ctx, const Tensor& out, const Tensor& mean, const Tensor& rstd,
                       const Tensor& in, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "layernorm_forward";
  const auto [N, C] = check_layernorm_forward(op, out, mean, rstd, "in", in, weight, bias, eps);
  const DType dt = in.dtype;
  check_device(ctx, {&out, &mean, &rstd, &in, &weight, &bias}, op);
  if (run_on_cuda(
          ctx, dt, op,
          [&](auto& cc) {
            cuda::layernorm_forward(cc, dt, out.data, mean.ptr<float>(), rstd.ptr<float>(), in.data,
                                    weight.data, bias.data, N, C, eps);
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(dt)) {
    F32Views f32(ctx);
    layernorm_forward(ctx, f32.out(out), mean, rstd, f32.in(in), f32.in(weight), f32.in(bias),
                      eps);
    return;
  }
  dispatch_float(dt, op, [&]<typename T>() {
    cpu::layernorm_forward<T>(out.ptr<T>(), mean.ptr<T>(), rstd.ptr<T>(), in.ptr<T>(),
                              weight.ptr<T>(), bias.ptr<T>(), N, C, eps);
  });
}

void layernorm_backward(Ctx& ctx, const Tensor& din, const Tensor& dweight, const Tensor& dbias,
                        const Tensor& dout, const Tensor& in, const Tensor& weight,
                        const Tensor& mean, const Tensor& rstd) {
  const char* op = "layernorm_backward";
  const auto [N, C] = matrix_dims(op, "in", in);
  const DType dt = in.dtype;
  expect(op, "dout", dout, {N, C}, dt);
  expect(op, "weight", weight, {C}, dt);
  expect(op, "mean", mean, {N}, accum_dtype(dt));
  expect(op, "rstd", rstd, {N}, accum_dtype(dt));
  expect_optional(op, "din", din, {N, C}, dt);
  expect_optional(op, "dweight", dweight, {C}, accum_dtype(dt));
  expect_optional(op, "dbias", dbias, {C}, accum_dtype(dt));
  check_device(ctx, {&din, &dweight, &dbias, &dout, &in, &weight, &mean, &rstd}, op);
  if (run_on_cuda(
          ctx, dt, op,
          [&](auto& cc) {
            cuda::layernorm_backward(cc, dt, din.data, data_or_null<float>(dweight),
                                     data_or_null<float>(dbias), dout.data, in.data, weight.data,
                                     mean.ptr<float>(), rstd.ptr<float>(), N, C);
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(dt)) {
    F32Views f32(ctx);
    layernorm_backward(ctx, f32.inout(din), dweight, dbias, f32.in(dout), f32.in(in),
                       f32.in(weight), mean, rstd);
    return;
  }
  dispatch_float(dt, op, [&]<typename T>() {
    cpu::layernorm_backward<T>(data_or_null<T>(din), data_or_null<T>(dweight),
                               data_or_null<T>(dbias), dout.ptr<T>(), in.ptr<T>(),
                               weight.ptr<T>(), mean.ptr<T>(), rstd.ptr<T>(), N, C);
  });
}

void residual_layernorm_forward(Ctx& ctx, const Tensor& sum, const Tensor& out, const Tensor& mean,
                                const Tensor& rstd, const Tensor& a, const Tensor& b,
                                const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "residual_layernorm_forward";
  const auto [N, C] = check_layernorm_forward(op, out, mean, rstd, "sum", sum, weight, bias, eps);
  const DType dt = sum.dtype;
  expect(op, "a", a, {N, C}, dt);
  expect(op, "b", b, {N, C}, dt);
  // Each element of sum is written after its a and b are read (in place is fine); out is
  // written while other rows of sum are still being read.
  const auto overlap = [](const Tensor& x, const Tensor& y) {
    const auto *x0 = static_cast<const char*>(x.data), *y0 = static_cast<const char*>(y.data);
    return x.nbytes() > 0 && y.nbytes() > 0 && x0 < y0 + y.nbytes() && y0 < x0 + x.nbytes();
  };
  MASKLM_CHECK(!overlap(out, sum) && !overlap(out, a) && !overlap(out, b),
               "{}: out must not alias sum, a or b", op);
  MASKLM_CHECK((!overlap(sum, a) || sum.data == a.data) && (!overlap(sum, b) || sum.data == b.data),
               "{}: sum may be a or b (in place) but not overlap them otherwise", op);
  check_device(ctx, {&sum, &out, &mean, &rstd, &a, &b, &weight, &bias}, op);
  if (run_on_cuda(
          ctx, dt, op,
          [&](auto& cc) {
            cuda::residual_layernorm_forward(cc, dt, sum.data, out.data, mean.ptr<float>(),
                                             rstd.ptr<float>(), a.data, b.data, weight.data,
                                             bias.data, N, C, eps);
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  residual_forward(ctx, sum, a, b);
  layernorm_forward(ctx, out, mean, rstd, sum, weight, bias, eps);
}

// ---- matmul ----------------------------------------------------------------------

namespace {
// OpenBLAS takes 32-bit sizes.
void check_blas_sizes(const char* op, int64_t N, int64_t I, int64_t O) {
  MASKLM_CHECK(N <= INT_MAX && I <= INT_MAX && O <= INT_MAX,
               "{}: sizes ({}, {}, {}) exceed the 32-bit sizes BLAS takes", op, N, I, O);
}
}  // namespace

void matmul_forward(Ctx& ctx, const Tensor& out, const Tensor& in, const Tensor& weight,
                    const Tensor& bias) {
  const char* op = "matmul_forward";
  const auto [N, I] = matrix_dims(op, "in", in);
  const DType dt = in.dtype;
  const int64_t O = expect_rows(op, "weight", weight, I, dt);
  expect(op, "out", out, {N, O}, dt);
  expect_optional(op, "bias", bias, {O}, dt);
  check_blas_sizes(op, N, I, O);
  check_device(ctx, {&out, &in, &weight, &bias}, op);
  if (run_on_cuda(
          ctx, dt, op,
          [&](auto& cc) {
            cuda::matmul_forward(cc, dt, out.data, in.data, weight.data, bias.data, N, I, O);
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(dt)) {
    F32Views f32(ctx);
    matmul_forward(ctx, f32.out(out), f32.in(in), f32.in(weight), f32.in(bias));
    return;
  }
  dispatch_float(dt, op, [&]<typename T>() {
    cpu::matmul_forward<T>(out.ptr<T>(), in.ptr<T>(), weight.ptr<T>(), data_or_null<T>(bias), N,
                           I, O);
  });
}

void matmul_backward(Ctx& ctx, const Tensor& din, const Tensor& dweight, const Tensor& dbias,
                     const Tensor& dout, const Tensor& in, const Tensor& weight) {
  const char* op = "matmul_backward";
  const auto [N, I] = matrix_dims(op, "in", in);
  const DType dt = in.dtype;
  const int64_t O = expect_rows(op, "weight", weight, I, dt);
  expect(op, "dout", dout, {N, O}, dt);
  expect_optional(op, "din", din, {N, I}, dt);
  expect_optional(op, "dweight", dweight, {O, I}, accum_dtype(dt));
  expect_optional(op, "dbias", dbias, {O}, accum_dtype(dt));
  check_blas_sizes(op, N, I, O);
  check_device(ctx, {&din, &dweight, &dbias, &dout, &in, &weight}, op);
  if (run_on_cuda(
          ctx, dt, op,
          [&](auto& cc) {
            cuda::matmul_backward(cc, dt, din.data, data_or_null<float>(dweight),
                                  data_or_null<float>(dbias), dout.data, in.data, weight.data, N, I, O);
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(dt)) {
    F32Views f32(ctx);
    matmul_backward(ctx, f32.inout(din), dweight, dbias, f32.in(dout), f32.in(in),
                    f32.in(weight));
    return;
  }
  dispatch_float(dt, op, [&]<typename T>() {
    cpu::matmul_backward<T>(data_or_null<T>(din), data_or_null<T>(dweight), data_or_null<T>(dbias),
                            dout.ptr<T>(), in.ptr<T>(), weight.ptr<T>(), N, I, O);
  });
}

// ---- elementwise -----------------------------------------------------------------

void gelu_forward(Ctx& ctx, const Tensor& out, const Tensor& in) {
  const char* op = "gelu_forward";
  expect(op, "out", out, in.shape, in.dtype);
  check_device(ctx, {&out, &in}, op);
  if (run_on_cuda(ctx, in.dtype, op, [&](auto& cc) {
        cuda::gelu_forward(cc, in.dtype, out.data, in.data, in.numel());
      }, CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(in.dtype)) {
    F32Views f32(ctx);
    gelu_forward(ctx, f32.out(out), f32.in(in));
    return;
  }
  dispatch_float(in.dtype, op, [&]<typename T>() {
    cpu::gelu_forward<T>(out.ptr<T>(), in.ptr<T>(), in.numel());
  });
}

void gelu_backward(Ctx& ctx, const Tensor& din, const Tensor& dout, const Tensor& in) {
  const char* op = "gelu_backward";
  expect(op, "dout", dout, in.shape, in.dtype);
  expect_optional(op, "din", din, in.shape, in.dtype);
  check_device(ctx, {&din, &dout, &in}, op);
  if (din.empty()) return;
  if (run_on_cuda(ctx, in.dtype, op, [&](auto& cc) {
        cuda::gelu_backward(cc, in.dtype, din.data, dout.data, in.data, in.numel());
      }, CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(in.dtype)) {
    F32Views f32(ctx);
    gelu_backward(ctx, f32.inout(din), f32.in(dout), f32.in(in));
    return;
  }
  dispatch_float(in.dtype, op, [&]<typename T>() {
    cpu::gelu_backward<T>(din.ptr<T>(), dout.ptr<T>(), in.ptr<T>(), in.numel());
  });
}

void residual_forward(Ctx& ctx, const Tensor& out, const Tensor& a, const Tensor& b) {
  const char* op = "residual_forward";
  expect(op, "b", b, a.shape, a.dtype);
  expect(op, "out", out, a.shape, a.dtype);
  check_device(ctx, {&out, &a, &b}, op);
  if (run_on_cuda(ctx, a.dtype, op, [&](auto& cc) {
        cuda::residual_forward(cc, a.dtype, out.data, a.data, b.data, a.numel());
      }, CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(a.dtype)) {
    F32Views f32(ctx);
    residual_forward(ctx, f32.out(out), f32.in(a), f32.in(b));
    return;
  }
  dispatch_float(a.dtype, op, [&]<typename T>() {
    cpu::residual_forward<T>(out.ptr<T>(), a.ptr<T>(), b.ptr<T>(), a.numel());
  });
}

void add_inplace(Ctx& ctx, const Tensor& dst, const Tensor& src) {
  const char* op = "add_inplace";
  expect(op, "src", src, dst.shape, dst.dtype);
  check_device(ctx, {&dst, &src}, op);
  if (run_on_cuda(ctx, dst.dtype, op, [&](auto& cc) {
        cuda::add_inplace(cc, dst.dtype, dst.data, src.data, dst.numel());
      }, CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(dst.dtype)) {
    F32Views f32(ctx);
    add_inplace(ctx, f32.inout(dst), f32.in(src));
    return;
  }
  dispatch_float(dst.dtype, op, [&]<typename T>() {
    cpu::add_inplace<T>(dst.ptr<T>(), src.ptr<T>(), dst.numel());
  });
}

namespace {
void check_dropout_p(const char* op, float p) {
  MASKLM_CHECK(p >= 0.0f && p < 1.0f, "{}: dropout probability must be in [0, 1), got {}", op, p);
}
}  // namespace

void dropout_forward(Ctx& ctx, const Tensor& out, const Tensor& in, float p, const RngKey& key) {
  const char* op = "dropout_forward";
  check_dropout_p(op, p);
  expect(op, "out", out, in.shape, in.dtype);
  check_device(ctx, {&out, &in}, op);
  if (run_on_cuda(ctx, in.dtype, op, [&](auto& cc) {
        cuda::dropout_forward(cc, in.dtype, out.data, in.data, in.numel(), p, key);
      }, CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(in.dtype)) {
    F32Views f32(ctx);
    dropout_forward(ctx, f32.out(out), f32.in(in), p, key);
    return;
  }
  dispatch_float(in.dtype, op, [&]<typename T>() {
    cpu::dropout_forward<T>(out.ptr<T>(), in.ptr<T>(), in.numel(), p, key);
  });
}

void dropout_backward(Ctx& ctx, const Tensor& din, const Tensor& dout, float p, const RngKey& key) {
  const char* op = "dropout_backward";
  check_dropout_p(op, p);
  expect_optional(op, "din", din, dout.shape, dout.dtype);
  check_device(ctx, {&din, &dout}, op);
  if (din.empty()) return;
  if (run_on_cuda(ctx, dout.dtype, op, [&](auto& cc) {
        cuda::dropout_backward(cc, dout.dtype, din.data, dout.data, dout.numel(), p, key);
      }, CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(dout.dtype)) {
    F32Views f32(ctx);
    dropout_backward(ctx, f32.inout(din), f32.in(dout), p, key);
    return;
  }
  dispatch_float(dout.dtype, op, [&]<typename T>() {
    cpu::dropout_backward<T>(din.ptr<T>(), dout.ptr<T>(), dout.numel(), p, key);
  });
}

// ---- rows ------------------------------------------------------------------------

void gather_rows(Ctx& ctx, const Tensor& out, const Tensor& in, const Tensor& index) {
  const char* op = "gather_rows";
  const auto [P, C] = matrix_dims(op, "out", out);
  const int64_t N = expect_rows(op, "in", in, C, out.dtype);
  expect(op, "index", index, {P}, DType::I32);
  check_device(ctx, {&out, &in, &index}, op);
  if (run_on_cuda(
          ctx, out.dtype, op,
          [&](auto& cc) {
            cuda::gather_rows(cc, out.dtype, out.data, in.data, index.ptr<int32_t>(), P, C, N);
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(out.dtype)) {
    F32Views f32(ctx);
    gather_rows(ctx, f32.out(out), f32.in(in), index);
    return;
  }
  check_ids_in_range(op, "index", index, N);
  dispatch_float(out.dtype, op, [&]<typename T>() {
    cpu::gather_rows<T>(out.ptr<T>(), in.ptr<T>(), index.ptr<int32_t>(), P, C);
  });
}

void scatter_add_rows(Ctx& ctx, const Tensor& dst, const Tensor& src, const Tensor& index) {
  const char* op = "scatter_add_rows";
  const auto [P, C] = matrix_dims(op, "src", src);
  const int64_t N = expect_rows(op, "dst", dst, C, src.dtype);
  expect(op, "index", index, {P}, DType::I32);
  check_device(ctx, {&dst, &src, &index}, op);
  if (run_on_cuda(
          ctx, src.dtype, op,
          [&](auto& cc) {
            cuda::scatter_add_rows(cc, dst.dtype, dst.data, src.dtype, src.data, index.ptr<int32_t>(), P,
                                   C, N);
          },
          CudaDTypes::F32_OR_16BIT))
    return;
  if (is_16bit(src.dtype)) {
    F32Views f32(ctx);
    scatter_add_rows(ctx, f32.inout(dst), f32.in(src), index);
    return;
  }
  check_ids_in_range(op, "index", index, N);
  dispatch_float(src.dtype, op, [&]<typename T>() {
    cpu::scatter_add_rows<T>(dst.ptr<T>(), src.ptr<T>(), index.ptr<int32_t>(), P, C);
  });
}

}  // namespace masklm

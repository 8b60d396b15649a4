// CPU ops in BF16 and F16, emulated in fp32 (kernels/f32_views.h). Every op runs on
// the same values three times: in the 16-bit dtype under test, in F32, and in F64. The
// 16-bit results must match the F64 op within the dtype's NMSE bound
// (tests/precision_tolerance.h), the GPU's contract too, and equal the F32 op's results
// rounded once (runtime/half.h), the emulation's own contract; F32 companions (mean/rstd,
// lse, losses, parameter gradients) must equal the F32 op's bitwise. Gradient outputs
// start non-zero (+=), shapes are awkward (hidden 59, sequences of 1 and 127 tokens).
// Also: the scratch, adamw_update's compute copy, convert, and the dtype checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "expect_error.h"
#include "gradcheck.h"
#include "kernels/f32_views.h"
#include "kernels/ops.h"
#include "precision_tolerance.h"
#include "runtime/half.h"

namespace masklm {
namespace {

using testing::expect_close;
using testing::expect_error;
using testing::nmse_bound;
using testing::random_vector;

Ctx cpu_ctx;

// The flat batch: sequences of 1, 127 and 5 tokens; hidden size 59.
const std::vector<int32_t> kCuSeqlens{0, 1, 128, 133};
constexpr int64_t kTokens = 133, kHidden = 59;

std::vector<int32_t> random_ids(int64_t n, int64_t limit, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(limit));
  return ids;
}

// Values of one dtype in host memory, read and written as double.
class HostBuffer {
 public:
  HostBuffer(DType dtype, size_t n) : dtype_(dtype), bytes_(n * dtype_size(dtype)) {}
  Tensor tensor(Shape shape) { return Tensor{bytes_.data(), shape, dtype_, Device::CPU}; }
  size_t size() const { return bytes_.size() / dtype_size(dtype_); }

  double get(size_t i) const {
    switch (dtype_) {
      case DType::F32: return load<float>(i);
      case DType::F64: return load<double>(i);
      case DType::I32: return load<int32_t>(i);
      default: return float_from_16bit(dtype_, load<uint16_t>(i));
    }
  }
  void set(size_t i, double x) {
    switch (dtype_) {
      case DType::F32: return store(i, static_cast<float>(x));
      case DType::F64: return store(i, x);
      case DType::I32: return store(i, static_cast<int32_t>(x));
      default: return store(i, float_to_16bit(dtype_, static_cast<float>(x)));
    }
  }
  std::vector<double> values() const {
    std::vector<double> v(size());
    for (size_t i = 0; i < v.size(); ++i) v[i] = get(i);
    return v;
  }
  template <typename T> T load(size_t i) const {
    T x;
    std::memcpy(&x, bytes_.data() + i * sizeof(T), sizeof(T));
    return x;
  }

 private:
  template <typename T> void store(size_t i, T x) {
    std::memcpy(bytes_.data() + i * sizeof(T), &x, sizeof(T));
  }

  DType dtype_;
  std::vector<std::byte> bytes_;
};

// One op call's arguments in three versions holding the same values: TESTED has the
// compute-dtype arguments in the 16-bit dtype and the companions in F32, the F32 version
// has everything in F32 (what the emulation runs), the F64 version everything in F64 (the
// reference). Compute-dtype values are rounded to the 16-bit dtype first, companions to
// float, so the versions start equal and differ only in how they compute.
class OpArgs {
 public:
  enum Version { TESTED, F32, F64 };
  using Id = size_t;

  explicit OpArgs(DType dtype) : dtype_(dtype) {}

  Id compute(Shape shape, const std::vector<double>& values) {
    return add(COMPUTE, shape, values, {dtype_, DType::F32, DType::F64});
  }
  Id companion(Shape shape, const std::vector<double>& values) {
    return add(COMPANION, shape, values, {DType::F32, DType::F32, DType::F64});
  }
  Id ids(Shape shape, const std::vector<int32_t>& values) {
    return add(IDS, shape, {values.begin(), values.end()}, {DType::I32, DType::I32, DType::I32});
  }
  // Outputs the op overwrites start as NaN, so an element it misses shows.
  Id compute_output(Shape shape) { return compute(shape, nans(shape)); }
  Id companion_output(Shape shape) { return companion(shape, nans(shape)); }

  // Runs call(arg) once per version, arg(id) giving that version's tensor.
  template <typename Fn> void run(Fn&& call) {
    for (Version v : {TESTED, F32, F64}) call([&, v](Id id) { return tensor(v, id); });
  }
  Tensor tensor(Version v, Id id) { return args_[id].buffers[v].tensor(args_[id].shape); }
  std::vector<double> values(Version v, Id id) const { return args_[id].buffers[v].values(); }

  // The checks of the file comment, for each (output, name).
  void expect_matches(std::initializer_list<std::pair<Id, const char*>> outputs) const {
    for (const auto& [id, name] : outputs) expect_match(id, name);
  }

 private:
  enum Kind { COMPUTE, COMPANION, IDS };
  struct Arg {
    Kind kind;
    Shape shape;
    std::vector<HostBuffer> buffers;  // by Version
  };

  void expect_match(Id id, const std::string& what) const {
    const Arg& arg = args_[id];
    const HostBuffer &tested = arg.buffers[TESTED], &f32 = arg.buffers[F32];
    if (arg.kind != IDS)
      expect_close(tested.values(), arg.buffers[F64].values(),
                   nmse_bound(arg.kind == COMPUTE ? dtype_ : DType::F32), what);
    int64_t differing = 0, first = -1;
    for (size_t i = 0; i < tested.size(); ++i) {
      const bool same = arg.kind == COMPUTE
                            ? tested.load<uint16_t>(i) == float_to_16bit(dtype_, f32.load<float>(i))
                            : tested.load<uint32_t>(i) == f32.load<uint32_t>(i);
      if (!same && differing++ == 0) first = static_cast<int64_t>(i);
    }
    EXPECT_EQ(differing, 0) << what << ": " << differing << " values differ from the F32 op's"
                            << (arg.kind == COMPUTE ? " rounded once" : "") << ", first at "
                            << first;
  }

  static std::vector<double> nans(Shape shape) {
    return std::vector<double>(static_cast<size_t>(shape.numel()), std::nan(""));
  }
  Id add(Kind kind, Shape shape, const std::vector<double>& values,
         std::initializer_list<DType> dtypes) {
    EXPECT_EQ(static_cast<int64_t>(values.size()), shape.numel());
    Arg arg{kind, shape, {}};
    for (DType dt : dtypes) arg.buffers.emplace_back(dt, values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      arg.buffers[TESTED].set(i, values[i]);  // rounds
      const double exact = arg.buffers[TESTED].get(i);
      arg.buffers[F32].set(i, exact);
      arg.buffers[F64].set(i, exact);
    }
    args_.push_back(std::move(arg));
    return args_.size() - 1;
  }

  DType dtype_;
  std::vector<Arg> args_;
};

class Ops16Bit : public ::testing::TestWithParam<DType> {
 protected:
  DType dtype() const { return GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(Dtypes, Ops16Bit, ::testing::Values(DType::BF16, DType::F16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// ---- the ops ---------------------------------------------------------------------

TEST_P(Ops16Bit, Embedding) {
  const int64_t N = kTokens, C = kHidden, V = 31, max_positions = 130, type_vocab = 2;
  OpArgs a(dtype());
  const auto tokens = a.ids({N}, random_ids(N, V, 1));
  const auto positions = a.ids({N}, random_ids(N, max_positions, 2));
  const auto types = a.ids({N}, random_ids(N, type_vocab, 3));
  const auto wte = a.compute({V, C}, random_vector<double>(V * C, 4));
  const auto wpe = a.compute({max_positions, C}, random_vector<double>(max_positions * C, 5));
  const auto wtt = a.compute({type_vocab, C}, random_vector<double>(type_vocab * C, 6));
  const auto out = a.compute_output({N, C});
  const auto dout = a.compute({N, C}, random_vector<double>(N * C, 7));
  const auto dwte = a.companion({V, C}, random_vector<double>(V * C, 8));
  const auto dwpe = a.companion({max_positions, C}, random_vector<double>(max_positions * C, 9));
  const auto dwtt = a.companion({type_vocab, C}, random_vector<double>(type_vocab * C, 10));
  a.run([&](auto arg) {
    embedding_forward(cpu_ctx, arg(out), arg(tokens), arg(positions), arg(types), arg(wte),
                      arg(wpe), arg(wtt));
    embedding_backward(cpu_ctx, arg(dwte), arg(dwpe), arg(dwtt), arg(dout), arg(tokens),
                       arg(positions), arg(types));
  });
  a.expect_matches({{out, "out"}, {dwte, "dwte"}, {dwpe, "dwpe"}, {dwtt, "dwtt"}});
}

TEST_P(Ops16Bit, LayerNorm) {
  const int64_t N = kTokens, C = kHidden;
  OpArgs a(dtype());
  const auto in = a.compute({N, C}, random_vector<double>(N * C, 1, -1, 3));
  const auto weight = a.compute({C}, random_vector<double>(C, 2, 0.5, 1.5));
  const auto bias = a.compute({C}, random_vector<double>(C, 3));
  const auto out = a.compute_output({N, C});
  const auto mean = a.companion_output({N}), rstd = a.companion_output({N});
  const auto dout = a.compute({N, C}, random_vector<double>(N * C, 4));
  const auto din = a.compute({N, C}, random_vector<double>(N * C, 5));
  const auto dweight = a.companion({C}, random_vector<double>(C, 6, -20, 20));
  const auto dbias = a.companion({C}, random_vector<double>(C, 7, -20, 20));
  a.run([&](auto arg) {
    layernorm_forward(cpu_ctx, arg(out), arg(mean), arg(rstd), arg(in), arg(weight), arg(bias),
                      1e-5);
    layernorm_backward(cpu_ctx, arg(din), arg(dweight), arg(dbias), arg(dout), arg(in),
                       arg(weight), arg(mean), arg(rstd));
  });
  a.expect_matches({{out, "out"}, {mean, "mean"}, {rstd, "rstd"}, {din, "din"},
                    {dweight, "dweight"}, {dbias, "dbias"}});
}

TEST_P(Ops16Bit, Matmul) {
  const int64_t N = kTokens, I = kHidden, O = 77;
  OpArgs a(dtype());
  const auto in = a.compute({N, I}, random_vector<double>(N * I, 1));
  const auto weight = a.compute({O, I}, random_vector<double>(O * I, 2));
  const auto bias = a.compute({O}, random_vector<double>(O, 3));
  const auto out = a.compute_output({N, O});
  const auto dout = a.compute({N, O}, random_vector<double>(N * O, 4));
  const auto din = a.compute({N, I}, random_vector<double>(N * I, 5, -5, 5));
  const auto dweight = a.companion({O, I}, random_vector<double>(O * I, 6, -20, 20));
  const auto dbias = a.companion({O}, random_vector<double>(O, 7, -20, 20));
  a.run([&](auto arg) {
    matmul_forward(cpu_ctx, arg(out), arg(in), arg(weight), arg(bias));
    matmul_backward(cpu_ctx, arg(din), arg(dweight), arg(dbias), arg(dout), arg(in), arg(weight));
  });
  a.expect_matches({{out, "out"}, {din, "din"}, {dweight, "dweight"}, {dbias, "dbias"}});
}

TEST_P(Ops16Bit, Gelu) {
  const int64_t n = kTokens * kHidden;
  auto x = random_vector<double>(n, 1, -4, 4);
  for (int64_t i = 0; i < n; i += 7) x[static_cast<size_t>(i)] = i % 14 ? -150 : 150;
  OpArgs a(dtype());
  const auto in = a.compute({n}, x), out = a.compute_output({n}), inplace = a.compute({n}, x);
  const auto dout = a.compute({n}, random_vector<double>(n, 2));
  const auto din = a.compute({n}, random_vector<double>(n, 3));
  a.run([&](auto arg) {
    gelu_forward(cpu_ctx, arg(out), arg(in));
    gelu_forward(cpu_ctx, arg(inplace), arg(inplace));  // out may alias in
    gelu_backward(cpu_ctx, arg(din), arg(dout), arg(in));
  });
  a.expect_matches({{out, "out"}, {inplace, "in-place out"}, {din, "din"}});
}

TEST_P(Ops16Bit, ResidualAddScaleAndZero) {
  const int64_t n = kTokens * kHidden;
  OpArgs a(dtype());
  const auto x = a.compute({n}, random_vector<double>(n, 1));
  const auto y = a.compute({n}, random_vector<double>(n, 2));
  const auto sum = a.compute_output({n}), acc = a.compute({n}, random_vector<double>(n, 3));
  const auto scaled = a.compute({n}, random_vector<double>(n, 4));
  const auto zeroed = a.compute({n}, random_vector<double>(n, 5));
  a.run([&](auto arg) {
    residual_forward(cpu_ctx, arg(sum), arg(x), arg(y));
    add_inplace(cpu_ctx, arg(acc), arg(x));
    scale_inplace(cpu_ctx, arg(scaled), -0.37);
    fill_zero(cpu_ctx, arg(zeroed));
  });
  a.expect_matches({{sum, "residual"}, {acc, "add_inplace"}, {scaled, "scale_inplace"}});
  const Tensor zeros = a.tensor(OpArgs::TESTED, zeroed);
  const auto* bits = static_cast<const uint16_t*>(zeros.data);
  EXPECT_EQ(std::count(bits, bits + n, uint16_t{0}), n) << "fill_zero";
}

TEST_P(Ops16Bit, Dropout) {
  const int64_t n = kTokens * kHidden;
  const RngKey key{.seed = 0x5eed, .step = 3, .rank = 1, .stream = RngStream::HIDDEN_DROPOUT,
                   .substream = 7};
  for (const float p : {0.0f, 0.1f, 0.5f}) {
    SCOPED_TRACE(p);
    const auto x = random_vector<double>(n, 1, 0.5, 1.5);
    OpArgs a(dtype());
    const auto in = a.compute({n}, x), out = a.compute_output({n}), inplace = a.compute({n}, x);
    const auto dout = a.compute({n}, random_vector<double>(n, 2));
    const auto din = a.compute({n}, random_vector<double>(n, 3));
    a.run([&](auto arg) {
      dropout_forward(cpu_ctx, arg(out), arg(in), p, key);
      dropout_forward(cpu_ctx, arg(inplace), arg(inplace), p, key);
      dropout_backward(cpu_ctx, arg(din), arg(dout), p, key);
    });
    a.expect_matches({{out, "out"}, {inplace, "in-place out"}, {din, "din"}});
  }
}

TEST_P(Ops16Bit, GatherAndScatterRows) {
  const int64_t N = kTokens, C = kHidden, P = 40;
  OpArgs a(dtype());
  const auto index = a.ids({P}, random_ids(P, 9, 1));  // few rows: repeats accumulate
  const auto in = a.compute({N, C}, random_vector<double>(N * C, 2));
  const auto gathered = a.compute_output({P, C});
  const auto src = a.compute({P, C}, random_vector<double>(P * C, 3));
  const auto dst = a.compute({N, C}, random_vector<double>(N * C, 4));
  a.run([&](auto arg) {
    gather_rows(cpu_ctx, arg(gathered), arg(in), arg(index));
    scatter_add_rows(cpu_ctx, arg(dst), arg(src), arg(index));
  });
  a.expect_matches({{gathered, "gather_rows"}, {dst, "scatter_add_rows"}});
}

TEST_P(Ops16Bit, Attention) {
  const int64_t N = kTokens, NH = 2, C = NH * kHidden;  // head size 59
  const RngKey key{.seed = 11, .step = 2, .rank = 0, .stream = RngStream::ATTENTION_DROPOUT,
                   .substream = 1};
  const auto qkv_values = random_vector<double>(N * 3 * C, 1, -2, 2);
  for (const float p : {0.0f, 0.1f}) {
    SCOPED_TRACE(p);
    OpArgs a(dtype());
    const auto cu = a.ids({int64_t(kCuSeqlens.size())}, kCuSeqlens);
    const auto qkv = a.compute({N, 3 * C}, qkv_values);
    const auto out = a.compute_output({N, C}), lse = a.companion_output({NH, N});
    a.run([&](auto arg) {
      attention_forward(cpu_ctx, arg(out), arg(lse), arg(qkv), arg(cu), int(NH), p, key);
    });
    a.expect_matches({{out, "out"}, {lse, "lse"}});

    // The backward reads out, so every version gets the 16-bit forward's out and lse.
    OpArgs b(dtype());
    const auto cu_b = b.ids({int64_t(kCuSeqlens.size())}, kCuSeqlens);
    const auto qkv_b = b.compute({N, 3 * C}, qkv_values);
    const auto out_b = b.compute({N, C}, a.values(OpArgs::TESTED, out));
    const auto lse_b = b.companion({NH, N}, a.values(OpArgs::TESTED, lse));
    const auto dout = b.compute({N, C}, random_vector<double>(N * C, 2));
    const auto dqkv = b.compute({N, 3 * C}, random_vector<double>(N * 3 * C, 3));
    b.run([&](auto arg) {
      attention_backward(cpu_ctx, arg(dqkv), arg(dout), arg(out_b), arg(qkv_b), arg(lse_b),
                         arg(cu_b), int(NH), p, key);
    });
    b.expect_matches({{dqkv, "dqkv"}});
  }
}

TEST_P(Ops16Bit, MlmXent) {
  const int64_t P = 37, C = kHidden, V = 301, chunk = 64;
  OpArgs a(dtype());
  const auto h = a.compute({P, C}, random_vector<double>(P * C, 1, -2, 2));
  const auto emb = a.compute({V, C}, random_vector<double>(V * C, 2));
  const auto bias = a.compute({V}, random_vector<double>(V, 3));
  const auto labels = a.ids({P}, random_ids(P, V, 4));
  const auto losses = a.companion_output({P}), lse = a.companion_output({P});
  const auto correct = a.ids({P}, std::vector<int32_t>(P, -1));
  const auto dh = a.compute({P, C}, random_vector<double>(P * C, 5, -0.1, 0.1));
  const auto demb = a.companion({V, C}, random_vector<double>(V * C, 6, -0.1, 0.1));
  const auto dbias = a.companion({V}, random_vector<double>(V, 7, -0.1, 0.1));
  a.run([&](auto arg) {
    mlm_xent_forward(cpu_ctx, arg(losses), arg(lse), arg(correct), arg(h), arg(emb), arg(bias),
                     arg(labels), chunk);
    mlm_xent_backward(cpu_ctx, arg(dh), arg(demb), arg(dbias), arg(h), arg(emb), arg(bias),
                      arg(labels), arg(lse), 1.0 / P, chunk);
  });
  a.expect_matches({{losses, "losses"}, {lse, "lse"}, {correct, "correct"}, {dh, "dh"},
                    {demb, "demb"}, {dbias, "dbias"}});
}

// The emulation's rounding, computed here independently: each 16-bit result is the fp32
// sum or product of the widened inputs rounded once, also where it adds into the output.
TEST_P(Ops16Bit, ElementwiseResultsAreTheFp32ResultRoundedOnce) {
  const DType dt = dtype();
  const int64_t n = 1000;
  const auto a = random_vector<float>(n, 1, -3, 3), b = random_vector<float>(n, 2, -3, 3);
  std::vector<uint16_t> a16(n), b16(n), sum(n), acc(n), scaled(n);
  for (size_t i = 0; i < a16.size(); ++i) {
    a16[i] = float_to_16bit(dt, a[i]);
    b16[i] = float_to_16bit(dt, b[i]);
  }
  acc = scaled = a16;
  const auto t = [&](std::vector<uint16_t>& v) { return Tensor{v.data(), {n}, dt, Device::CPU}; };
  residual_forward(cpu_ctx, t(sum), t(a16), t(b16));
  add_inplace(cpu_ctx, t(acc), t(b16));
  scale_inplace(cpu_ctx, t(scaled), -0.37);
  for (size_t i = 0; i < a16.size(); ++i) {
    const float x = float_from_16bit(dt, a16[i]), y = float_from_16bit(dt, b16[i]);
    ASSERT_EQ(sum[i], float_to_16bit(dt, x + y)) << i;
    ASSERT_EQ(acc[i], float_to_16bit(dt, x + y)) << i;
    ASSERT_EQ(scaled[i], float_to_16bit(dt, x * -0.37f)) << i;
  }
}

// ---- adamw_update's compute copy, convert --------------------------------------------

TEST_P(Ops16Bit, AdamWComputeCopyIsTheUpdatedParamsRounded) {
  const int64_t n = 1001;
  auto params = random_vector<float>(n, 1), grads = random_vector<float>(n, 2);
  auto m = random_vector<float>(n, 3, -0.1, 0.1), v = random_vector<float>(n, 4, 0, 0.1);
  auto params_alone = params, m_alone = m, v_alone = v;
  std::vector<uint16_t> copy(n, 0x1234);
  const AdamWStep step{.lr = 1e-2, .weight_decay = 0.1, .step = 3};
  adamw_update(cpu_ctx, host_tensor(params), host_tensor(grads), host_tensor(m), host_tensor(v),
               step, Tensor{copy.data(), {n}, dtype(), Device::CPU});
  adamw_update(cpu_ctx, host_tensor(params_alone), host_tensor(grads), host_tensor(m_alone),
               host_tensor(v_alone), step);
  EXPECT_EQ(params, params_alone);  // the copy changes nothing else
  EXPECT_EQ(m, m_alone);
  EXPECT_EQ(v, v_alone);
  for (size_t i = 0; i < copy.size(); ++i)
    ASSERT_EQ(copy[i], float_to_16bit(dtype(), params[i])) << i;
}

TEST_P(Ops16Bit, ConvertRoundsWidensAndCopies) {
  const DType dt = dtype();
  auto x = random_vector<float>(997, 1, -70000, 70000);  // overflows F16 at the ends
  x.insert(x.end(), {0.0f, -0.0f, 0x1p-24f, 0x1p-25f, 1.0f + 0x1p-8f, 1.0f + 0x1p-11f,
                     std::numeric_limits<float>::infinity(), std::nanf("")});
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> rounded(x.size()), copied(x.size());
  std::vector<float> widened(x.size());
  const auto t16 = [&](std::vector<uint16_t>& v) { return Tensor{v.data(), {n}, dt, Device::CPU}; };
  convert(cpu_ctx, t16(rounded), host_tensor(x));
  convert(cpu_ctx, host_tensor(widened), t16(rounded));
  convert(cpu_ctx, t16(copied), t16(rounded));
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(rounded[i], float_to_16bit(dt, x[i])) << i;
    const float w = float_from_16bit(dt, rounded[i]);
    ASSERT_EQ(std::memcmp(&widened[i], &w, sizeof w), 0) << i;
  }
  EXPECT_EQ(copied, rounded);
  std::vector<float> f32_copy(x.size());
  convert(cpu_ctx, host_tensor(f32_copy), host_tensor(x));
  EXPECT_EQ(std::memcmp(f32_copy.data(), x.data(), x.size() * sizeof(float)), 0);
}

TEST(Convert, RefusesOtherDtypePairsAndShapes) {
  std::vector<double> f64(4);
  std::vector<float> f32(4), f32_short(3);
  std::vector<uint16_t> bits(4);
  const Tensor bf16{bits.data(), {4}, DType::BF16, Device::CPU};
  const Tensor f16{bits.data(), {4}, DType::F16, Device::CPU};
  expect_error([&] { convert(cpu_ctx, bf16, host_tensor(f64)); }, {"convert", "F64 to BF16"});
  expect_error([&] { convert(cpu_ctx, f16, bf16); }, {"convert", "BF16 to F16"});
  expect_error([&] { convert(cpu_ctx, host_tensor(f64), host_tensor(f64)); }, "F64 to F64");
  expect_error([&] { convert(cpu_ctx, host_tensor(f32_short), host_tensor(f32)); }, "shape");
}

// ---- the scratch -------------------------------------------------------------------

TEST(F32Views, ScratchIsReusedAndOutputsAreWrittenBackOnlyOnSuccess) {
  std::vector<uint16_t> bits(100, float_to_bf16(1.5f));
  const Tensor t{bits.data(), {10, 10}, DType::BF16, Device::CPU};
  const void* first = nullptr;
  {
    F32Views f32(cpu_ctx);
    const Tensor view = f32.inout(t);
    EXPECT_EQ(view.dtype, DType::F32);
    EXPECT_EQ(view.shape, t.shape);
    EXPECT_EQ(view.ptr<float>()[99], 1.5f);
    view.ptr<float>()[0] = 2.0f;
    first = view.data;
  }
  EXPECT_EQ(bits[0], float_to_bf16(2.0f));  // written back
  {
    F32Views f32(cpu_ctx);
    EXPECT_EQ(f32.in(t).data, first);  // the same scratch, no new allocation
  }
  EXPECT_THROW(
      {
        F32Views f32(cpu_ctx);
        f32.out(t).ptr<float>()[1] = 3.0f;
        MASKLM_FAIL("the op failed");
      },
      Error);
  EXPECT_EQ(bits[1], float_to_bf16(1.5f));  // a failed op leaves its output untouched
  std::vector<float> companion(3);
  F32Views f32(cpu_ctx);
  EXPECT_EQ(f32.in(host_tensor(companion)).data, companion.data());  // F32 passes through
  EXPECT_TRUE(f32.in(Tensor{}).empty());
}

// ---- dtype checks: the CPU takes exactly the GPU's dtype combinations ------------------

TEST(Ops16BitValidation, CompanionsMustBeF32AndFlatBuffersStayFp32) {
  std::vector<uint16_t> x(12), w(4), stats16(3), out(12);
  std::vector<float> stats(3), f32(12);
  const auto bf16 = [](std::vector<uint16_t>& v, Shape s) {
    return Tensor{v.data(), s, DType::BF16, Device::CPU};
  };
  expect_error(
      [&] {
        layernorm_forward(cpu_ctx, bf16(out, {3, 4}), bf16(stats16, {3}), host_tensor(stats),
                          bf16(x, {3, 4}), bf16(w, {4}), bf16(w, {4}), 1e-5);
      },
      "mean has dtype BF16, expected F32");
  expect_error(
      [&] {
        matmul_backward(cpu_ctx, Tensor{}, Tensor{}, bf16(stats16, {3}), bf16(out, {3, 3}),
                        bf16(x, {3, 4}), bf16(w, {3, 4}));
      },
      "dbias has dtype BF16, expected F32");
  expect_error([&] { residual_forward(cpu_ctx, bf16(out, {12}), bf16(x, {12}), host_tensor(f32)); },
               "b has dtype F32, expected BF16");
  // Norms and the optimizer work on the fp32 flat buffers only, on both backends.
  expect_error([&] { sum_squares(cpu_ctx, bf16(x, {12})); }, "F32 or F64, got BF16");
  expect_error(
      [&] {
        adamw_update(cpu_ctx, bf16(x, {12}), bf16(out, {12}), bf16(x, {12}), bf16(out, {12}),
                     AdamWStep{});
      },
      "F32 or F64, got BF16");
}

}  // namespace
}  // namespace masklm

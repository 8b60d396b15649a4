// The sparse MLM head's kernels (kernels/cuda/mlm_xent_kernels.cuh) run under the CUDA
// emulation in the order mlm_xent.cu launches them, chunk by chunk over the vocabulary,
// against the CPU ops in fp64. The logits tile that cuBLASLt writes on a GPU is computed
// here on the host (in double, rounded once to the storage type), and so are the GEMMs of
// the backward, which turn the kernel's dlogits into dh, demb and dbias.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "emulated_test_support.h"
#include "kernels/cuda/mlm_xent_kernels.cuh"

namespace masklm::cuda {
namespace {

using emulated_testing::bound_for;
using emulated_testing::expect_close;
using emulated_testing::f64;
using emulated_testing::i32;
using emulated_testing::random_values;
using emulated_testing::widen;

constexpr int64_t kP = 9, kC = 24;
// Fewer blocks than mlm_xent.cu launches, so the grid-stride loop goes round many times.
constexpr unsigned kStrideBlocks = 7;

struct XentCase {
  int64_t V, chunk;
};

// What the head's GEMM writes for vocabulary [v0, v0 + cv): h @ emb^T + bias, rounded to T.
template <typename T>
std::vector<T> logits_tile(const std::vector<double>& h, const std::vector<double>& emb,
                           const std::vector<double>& bias, int64_t v0, int64_t cv) {
  std::vector<T> tile(static_cast<size_t>(kP * cv));
  for (int64_t p = 0; p < kP; ++p)
    for (int64_t c = 0; c < cv; ++c) {
      double sum = bias[v0 + c];
      for (int64_t k = 0; k < kC; ++k) sum += h[p * kC + k] * emb[(v0 + c) * kC + k];
      tile[p * cv + c] = from_float<T>(static_cast<float>(sum));
    }
  return tile;
}

// Labels in [0, V), one of them in the last (partial) chunk.
std::vector<int32_t> labels_for(int64_t V) {
  std::vector<int32_t> labels(kP);
  for (int64_t p = 0; p < kP; ++p) labels[p] = static_cast<int32_t>((p * 7919 + 13) % V);
  labels[kP - 1] = static_cast<int32_t>(V - 1);
  return labels;
}

// Each row's first maximum over the rounded logits of every chunk.
template <typename T> std::vector<int32_t> first_argmax(const std::vector<std::vector<T>>& tiles,
                                                        int64_t V, int64_t chunk) {
  std::vector<int32_t> argmax(kP, -1);
  for (int64_t p = 0; p < kP; ++p) {
    float best = -INFINITY;
    for (int64_t v0 = 0, t = 0; v0 < V; v0 += chunk, ++t) {
      const int64_t cv = std::min(chunk, V - v0);
      for (int64_t c = 0; c < cv; ++c)
        if (to_float(tiles[t][p * cv + c]) > best)
          best = to_float(tiles[t][p * cv + c]), argmax[p] = static_cast<int32_t>(v0 + c);
    }
  }
  return argmax;
}

class MlmXentEmulated : public ::testing::TestWithParam<XentCase> {};

TEST_P(MlmXentEmulated, ForwardAndBackwardMatchTheCpuOpsInFp64) {
  const auto [V, chunk] = GetParam();
  emulated_testing::for_each_storage([&]<typename T>() {
    auto h = widen(random_values<T>(kP * kC, 1.0, 1));
    auto emb = widen(random_values<T>(V * kC, 0.5, 2)), bias = widen(random_values<T>(V, 0.5, 3));
    std::vector<std::vector<T>> tiles;  // what the head's GEMM writes, chunk by chunk
    for (int64_t v0 = 0; v0 < V; v0 += chunk)
      tiles.push_back(logits_tile<T>(h, emb, bias, v0, std::min(chunk, V - v0)));
    const std::vector<int32_t> argmax = first_argmax(tiles, V, chunk);
    auto labels = labels_for(V);
    labels[0] = argmax[0], labels[3] = argmax[3];  // two rows the head predicts correctly
    const float loss_scale = 1.0f / kP;

    std::vector<float> losses(kP, NAN), lse(kP, NAN);
    std::vector<int32_t> correct(kP, -1);
    std::vector<OnlineRow> rows(kP);
    int error_flag = 0;
    for (int64_t v0 = 0, t = 0; v0 < V; v0 += chunk, ++t) {
      const int64_t cv = std::min(chunk, V - v0);
      with_pack_width<T>(rows_fit_packs<T>(cv, tiles[t].data()), [&]<int W>() {
        emulator::launch(xent_fold_chunk_kernel<T, W>,
                         {static_cast<unsigned>(CEIL_DIV(kP, kRowsPerBlock)), 1, 1},
                         kRowsPerBlock * WARP_SIZE, 0, rows.data(),
                         static_cast<const T*>(tiles[t].data()),
                         static_cast<const int32_t*>(labels.data()), kP, cv, v0, V, v0 + cv == V,
                         losses.data(), lse.data(), correct.data(), &error_flag);
      });
    }
    // Backward: dlogits per chunk from the kernel, the GEMMs and column sums on the host.
    std::vector<double> dh(kP * kC, 0.0), demb(V * kC, 0.0), dbias(V, 0.0);
    for (int64_t v0 = 0, t = 0; v0 < V; v0 += chunk, ++t) {
      const int64_t cv = std::min(chunk, V - v0);
      std::vector<T> tile = tiles[t];
      with_pack_width<T>(rows_fit_packs<T>(cv, tile.data()), [&]<int W>() {
        emulator::launch(xent_dlogits_kernel<T, W>, {kStrideBlocks, 1, 1}, kThreads, 0, tile.data(),
                         static_cast<const float*>(lse.data()),
                         static_cast<const int32_t*>(labels.data()), kP, cv, v0, V, loss_scale,
                         &error_flag);
      });
      for (int64_t p = 0; p < kP; ++p)
        for (int64_t c = 0; c < cv; ++c) {
          const double d = to_float(tile[p * cv + c]);
          dbias[v0 + c] += d;
          for (int64_t k = 0; k < kC; ++k) {
            dh[p * kC + k] += d * emb[(v0 + c) * kC + k];
            demb[(v0 + c) * kC + k] += d * h[p * kC + k];
          }
        }
    }
    EXPECT_EQ(error_flag, 0);

    std::vector<double> ref_losses(kP), ref_lse(kP), ref_dh(kP * kC, 0.0), ref_demb(V * kC, 0.0),
        ref_dbias(V, 0.0);
    Ctx cpu;
    const Tensor H = f64(h, {kP, kC}), E = f64(emb, {V, kC}), Bias = f64(bias, {V}),
                 L = i32(labels, {kP});
    mlm_xent_forward(cpu, f64(ref_losses, {kP}), f64(ref_lse, {kP}), Tensor{}, H, E, Bias, L,
                     chunk);
    mlm_xent_backward(cpu, f64(ref_dh, {kP, kC}), f64(ref_demb, {V, kC}), f64(ref_dbias, {V}), H, E,
                      Bias, L, f64(ref_lse, {kP}), loss_scale, chunk);
    // The tile is rounded to T once, as the GEMM rounds it on a GPU: T's bound.
    const double bound = bound_for<T>();
    expect_close(widen(losses), ref_losses, bound, "losses");
    expect_close(widen(lse), ref_lse, bound, "lse");
    expect_close(dh, ref_dh, bound, "dh");
    expect_close(demb, ref_demb, bound, "demb");
    expect_close(dbias, ref_dbias, bound, "dbias");
    // correct: whether the first maximum of the rounded logits is the label.
    for (int64_t p = 0; p < kP; ++p)
      EXPECT_EQ(correct[p], argmax[p] == labels[p] ? 1 : 0) << "row " << p;
  });
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, MlmXentEmulated,
                         ::testing::Values(XentCase{30522, 8192}, XentCase{1024, 256},
                                           XentCase{1000, 300}, XentCase{50, 64}),
                         [](const auto& info) {
                           return fmt::format("V{}_chunk{}", info.param.V, info.param.chunk);
                         });

// The first maximum wins, within a pack, within a lane across steps, across lanes and
// across chunks; labels on the maximum score as correct. Chunks of 70 take scalar loads (the
// last, of 40, packs), chunks of 64 packs 16-byte packs (two steps per lane).
TEST(MlmXentEmulatedArgmax, TheFirstOfEqualMaximaIsTheArgmax) {
  emulated_testing::for_each_storage([&]<typename T>() {
    constexpr int64_t P = 4, V = 600, kPacked = 64 * kPackWidth<T>;
    std::vector<float> logits(P * V, 0.0f);
    // Row 0: maxima at 5 and 37; row 1: at 69 and 70 (across a chunk boundary of 70, in one
    // pack otherwise); row 2: at 150 and 199 (two lanes of one chunk); row 3: at 3 and
    // 3 + 32 W (lane 0 in two steps when packed, lane 3 of two chunks when scalar).
    const int64_t lane_step = 32 * kPackWidth<T>;
    for (const auto& [p, v] : {std::pair<int64_t, int64_t>{0, 5},
                               {0, 37},
                               {1, 69},
                               {1, 70},
                               {2, 150},
                               {2, 199},
                               {3, 3},
                               {3, 3 + lane_step}})
      logits[p * V + v] = 3.0f;
    for (const int64_t chunk : {int64_t{70}, kPacked}) {
      SCOPED_TRACE("chunks of " + std::to_string(chunk));
      std::vector<int32_t> labels{5, 70, 150, 3}, correct(P, -1);
      std::vector<float> losses(P), lse(P);
      std::vector<OnlineRow> rows(P);
      int error_flag = 0;
      for (int64_t v0 = 0; v0 < V; v0 += chunk) {
        const int64_t cv = std::min(chunk, V - v0);
        std::vector<T> tile(P * cv);
        for (int64_t p = 0; p < P; ++p)
          for (int64_t c = 0; c < cv; ++c) tile[p * cv + c] = from_float<T>(logits[p * V + v0 + c]);
        with_pack_width<T>(rows_fit_packs<T>(cv, tile.data()), [&]<int W>() {
          emulator::launch(xent_fold_chunk_kernel<T, W>, {1, 1, 1}, kRowsPerBlock * WARP_SIZE, 0,
                           rows.data(), static_cast<const T*>(tile.data()),
                           static_cast<const int32_t*>(labels.data()), P, cv, v0, V, v0 + cv == V,
                           losses.data(), lse.data(), correct.data(), &error_flag);
        });
      }
      EXPECT_EQ(correct, (std::vector<int32_t>{1, 0, 1, 1}));
      EXPECT_EQ(error_flag, 0);
      // lse = log(598 e^0 + 2 e^3) in every row.
      for (int64_t p = 0; p < P; ++p)
        EXPECT_NEAR(lse[p], std::log(598.0 + 2.0 * std::exp(3.0)), 1e-5);
    }
  });
}

// Both widths flag a label outside [0, V).
TEST(MlmXentEmulatedErrors, LabelsOutsideTheVocabularyRaiseTheDeviceFlag) {
  const int64_t P = 2, V = 40;
  const std::vector<float> tile(P * V, 0.5f);
  const auto check = [&]<int W>(int32_t bad) {
    std::vector<int32_t> labels{3, bad};
    std::vector<float> losses(P), lse(P), dlogits = tile;
    std::vector<OnlineRow> rows(P);
    int fold_flag = 0, dlogits_flag = 0;
    emulator::launch(xent_fold_chunk_kernel<float, W>, {1, 1, 1}, kRowsPerBlock * WARP_SIZE, 0,
                     rows.data(), tile.data(), static_cast<const int32_t*>(labels.data()), P, V,
                     int64_t{0}, V, true, losses.data(), lse.data(), static_cast<int32_t*>(nullptr),
                     &fold_flag);
    emulator::launch(xent_dlogits_kernel<float, W>, {1, 1, 1}, kThreads, 0, dlogits.data(),
                     static_cast<const float*>(lse.data()),
                     static_cast<const int32_t*>(labels.data()), P, V, int64_t{0}, V, 1.0f,
                     &dlogits_flag);
    const int expected = static_cast<int>(DeviceError::INDEX_OUT_OF_RANGE);
    EXPECT_EQ(fold_flag, expected) << "label " << bad << ", width " << W;
    EXPECT_EQ(dlogits_flag, expected) << "label " << bad << ", width " << W;
  };
  for (const int32_t bad : {-1, 40}) {
    check.template operator()<1>(bad);
    check.template operator()<kPackWidth<float>>(bad);  // rows of 40 floats fit packs
  }
}

}  // namespace
}  // namespace masklm::cuda

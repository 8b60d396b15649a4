// cuDNN's SDPA through cudnn_frontend's graph API (kernels/cuda/cudnn_attention.h): the
// padded graph, its cache in the CudaContext, and the copies between masklm's unpadded
// tensors and cuDNN's padded ones. Host code; the copies are kernels/cuda/padded_layout.cu.
#include "kernels/cuda/cudnn_attention.h"

#include <cudnn.h>
#include <cudnn_frontend.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/padded_layout.cuh"
#include "kernels/cuda/scratch_plan.h"
#include "runtime/cuda_check.h"
#include "runtime/cuda_context.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace masklm::cuda {
namespace {

namespace fe = cudnn_frontend;
using TensorAttr = std::shared_ptr<fe::graph::Tensor_attributes>;

// The padded length S is the longest sequence rounded up to this, so batches of similar
// lengths share one graph.
constexpr int64_t kSeqAlign = 64;
// Alignment of the parts of the uploaded parameter block (cuDNN needs 16 bytes).
constexpr size_t kParamAlign = 16;

// Tensor ids of the graphs' variant packs.
enum Uid : int64_t { Q = 1, K, V, O, STATS, D_O, D_Q, D_K, D_V, SEQ_LEN_Q, SEQ_LEN_KV, SEED, OFFSET };

void check(fe::error_t status, const std::string& what) {
  if (!status.is_good()) MASKLM_FAIL("cuDNN attention: {} failed: {}", what, status.get_message());
}

void check(cudnnStatus_t status, const char* what) {
  if (status != CUDNN_STATUS_SUCCESS)
    MASKLM_FAIL("cuDNN attention: {} failed: {} (cuDNN {})", what, cudnnGetErrorString(status),
                cudnnGetVersion());
}

// One graph per key; B, S, NH, HS are the padded batch's dimensions.
struct GraphKey {
  bool backward;
  DType dtype;
  int64_t B, S, NH, HS;
  float dropout_p;
  auto operator<=>(const GraphKey&) const = default;

  int64_t C() const { return NH * HS; }
  std::string str() const {
    return fmt::format("{} graph: {} sequences padded to {}, {} heads of {}, {}, dropout {}",
                       backward ? "backward" : "forward", B, S, NH, HS, dtype_name(dtype),
                       dropout_p);
  }
  // (B, NH, S, HS) views: q, k, v and their gradients are heads of the padded (B, S, 3C)
  // qkv buffer; o and do of a padded (B, S, C) one.
  std::vector<int64_t> dims() const { return {B, NH, S, HS}; }
  std::vector<int64_t> qkv_strides() const { return {S * 3 * C(), HS, 3 * C(), 1}; }
  std::vector<int64_t> out_strides() const { return {S * C(), HS, C(), 1}; }
  // Softmax statistics (B, NH, S, 1), packed.
  std::vector<int64_t> stats_dims() const { return {B, NH, S, 1}; }
  std::vector<int64_t> stats_strides() const { return {NH * S, S, 1, 1}; }
};

fe::graph::Tensor_attributes tensor_attr(const char* name, Uid uid, std::vector<int64_t> dims,
                                         std::vector<int64_t> strides) {
  return fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim(dims).set_stride(
      strides);
}

// A per-sequence (B, 1, 1, 1) or scalar (1, 1, 1, 1) integer input.
TensorAttr index_tensor(fe::graph::Graph& g, const char* name, Uid uid, int64_t n,
                        fe::DataType_t type) {
  return g.tensor(tensor_attr(name, uid, {n, 1, 1, 1}, {1, 1, 1, 1}).set_data_type(type));
}

std::shared_ptr<fe::graph::Graph> build_graph(cudnnHandle_t handle, const GraphKey& key) {
  auto g = std::make_shared<fe::graph::Graph>();
  g->set_io_data_type(key.dtype == DType::BF16 ? fe::DataType_t::BFLOAT16 : fe::DataType_t::HALF)
      .set_intermediate_data_type(fe::DataType_t::FLOAT)
      .set_compute_data_type(fe::DataType_t::FLOAT);
  const auto q = g->tensor(tensor_attr("q", Q, key.dims(), key.qkv_strides()));
  const auto k = g->tensor(tensor_attr("k", K, key.dims(), key.qkv_strides()));
  const auto v = g->tensor(tensor_attr("v", V, key.dims(), key.qkv_strides()));
  const auto seq_q = index_tensor(*g, "seq_len_q", SEQ_LEN_Q, key.B, fe::DataType_t::INT32);
  const auto seq_kv = index_tensor(*g, "seq_len_kv", SEQ_LEN_KV, key.B, fe::DataType_t::INT32);
  const float scale = 1.0f / std::sqrt(static_cast<float>(key.HS));
  const bool dropout = key.dropout_p > 0;
  TensorAttr seed, offset;
  if (dropout) {
    seed = index_tensor(*g, "dropout_seed", SEED, 1, fe::DataType_t::INT64);
    offset = index_tensor(*g, "dropout_offset", OFFSET, 1, fe::DataType_t::INT64);
  }
  if (!key.backward) {
    auto options = fe::graph::SDPA_attributes()
                       .set_name("attention_forward")
                       .set_generate_stats(true)
                       .set_attn_scale(scale)
                       .set_padding_mask(true)
                       .set_seq_len_q(seq_q)
                       .set_seq_len_kv(seq_kv);
    if (dropout) options.set_dropout(key.dropout_p, seed, offset);
    const auto [o, stats] = g->sdpa(q, k, v, options);
    o->set_output(true).set_uid(O).set_dim(key.dims()).set_stride(key.out_strides());
    stats->set_output(true)
        .set_uid(STATS)
        .set_data_type(fe::DataType_t::FLOAT)
        .set_dim(key.stats_dims())
        .set_stride(key.stats_strides());
  } else {
    const auto o = g->tensor(tensor_attr("o", O, key.dims(), key.out_strides()));
    const auto d_o = g->tensor(tensor_attr("do", D_O, key.dims(), key.out_strides()));
    const auto stats = g->tensor(tensor_attr("stats", STATS, key.stats_dims(), key.stats_strides())
                                     .set_data_type(fe::DataType_t::FLOAT));
    auto options = fe::graph::SDPA_backward_attributes()
                       .set_name("attention_backward")
                       .set_attn_scale(scale)
                       .set_padding_mask(true)
                       .set_seq_len_q(seq_q)
                       .set_seq_len_kv(seq_kv)
                       .set_deterministic_algorithm(true);  // reproducible runs
    if (dropout) options.set_dropout(key.dropout_p, seed, offset);
    const auto [d_q, d_k, d_v] = g->sdpa_backward(q, k, v, o, d_o, stats, options);
    for (const auto& [grad, uid] : {std::pair{d_q, D_Q}, std::pair{d_k, D_K}, std::pair{d_v, D_V}})
      grad->set_output(true).set_uid(uid).set_dim(key.dims()).set_stride(key.qkv_strides());
  }
  check(g->build(handle, {fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK}),
        "building the " + key.str() + " (cuDNN " + std::to_string(cudnnGetVersion()) + ")");
  return g;
}

// cuDNN's handle on the context's stream, and the graphs built so far. Each build is
// logged: a new batch size or padded length costs one (NVRTC may compile kernels for it).
class CudnnState final : public CudaContext::Extension {
 public:
  explicit CudnnState(cudaStream_t stream) {
    const cudnnStatus_t created = cudnnCreate(&handle_);
    if (created != CUDNN_STATUS_SUCCESS)
      MASKLM_FAIL("cuDNN attention: cudnnCreate failed: {} (cuDNN {}; its engine libraries "
                  "must be on the loader path, e.g. PyTorch's nvidia/cudnn/lib)",
                  cudnnGetErrorString(created), cudnnGetVersion());
    check(cudnnSetStream(handle_, stream), "cudnnSetStream");
  }
  ~CudnnState() override {
    graphs_.clear();  // their plans before the handle they were built with
    (void)cudnnDestroy(handle_);
  }
  CudnnState(const CudnnState&) = delete;
  CudnnState& operator=(const CudnnState&) = delete;

  cudnnHandle_t handle() const { return handle_; }
  const fe::graph::Graph& graph(const GraphKey& key) {
    auto it = graphs_.find(key);
    if (it == graphs_.end()) {
      const auto t0 = std::chrono::steady_clock::now();
      it = graphs_.emplace(key, build_graph(handle_, key)).first;
      log_info("cuDNN attention: built the {} in {:.2f} s", key.str(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return *it->second;
  }

 private:
  cudnnHandle_t handle_ = nullptr;
  std::map<GraphKey, std::shared_ptr<fe::graph::Graph>> graphs_;
};

CudnnState& cudnn_state(CudaContext& cc) {
  std::unique_ptr<CudaContext::Extension>& slot = cc.cudnn_state();
  if (!slot) slot = std::make_unique<CudnnState>(cc.stream());
  return static_cast<CudnnState&>(*slot);
}

void check_args(CudaContext& cc, DType dtype, int64_t C, int64_t NH, const char* op) {
  MASKLM_CHECK(dtype == DType::BF16 || dtype == DType::F16,
               "{}: cuDNN's attention runs BF16/F16 tensors, got {}", op, dtype_name(dtype));
  MASKLM_CHECK(cc.sm_major() >= 8,
               "{}: cuDNN's attention (train.attention cudnn) needs a GPU of compute capability "
               "8.0 or newer, this one is {}.x", op, cc.sm_major());
  MASKLM_CHECK((C / NH) % 8 == 0,
               "{}: cuDNN's attention needs a head size that is a multiple of 8, got {}", op,
               C / NH);
}

// One call on the padded batch: reads cu_seqlens back (the graph depends on the longest
// sequence) and checks it as the kernels' device-side check does, finds the graph, and
// carves one scratch request into the call's buffers. Empty sequences are left out of the
// padded batch (cuDNN does not document a length of 0), so it holds the B' non-empty ones;
// their offsets are cu_seqlens without repeats. The first buffer holds what the call reads
// from device memory besides the tensors, uploaded together: the dropout seed and offset
// (int64), the B' lengths and the B' + 1 offsets (int32).
class PaddedCall {
 public:
  PaddedCall(CudaContext& cc, bool backward, DType dtype, const int32_t* cu_seqlens, int64_t B,
             int64_t N, int64_t C, int64_t NH, float dropout_p, const RngKey& key,
             const char* op)
      : cc_(cc), state_(cudnn_state(cc)), dropout_(dropout_p > 0) {
    std::vector<int32_t> cu(static_cast<size_t>(B + 1));
    CUDA_CHECK(cudaMemcpyAsync(cu.data(), cu_seqlens, cu.size() * sizeof(int32_t),
                               cudaMemcpyDeviceToHost, cc.stream()));
    CUDA_CHECK(cudaStreamSynchronize(cc.stream()));
    MASKLM_CHECK(cu[0] == 0 && cu[B] == N,
                 "{}: cu_seqlens must start at 0 and end at the token count {}, got {} and {}",
                 op, N, cu[0], cu[B]);
    std::vector<int32_t> lengths, offsets{0};
    for (int64_t b = 0; b < B; ++b) {
      MASKLM_CHECK(cu[b] <= cu[b + 1],
                   "{}: cu_seqlens must be non-decreasing, but entry {} is {} and entry {} is {}",
                   op, b, cu[b], b + 1, cu[b + 1]);
      if (cu[b + 1] == cu[b]) continue;
      lengths.push_back(cu[b + 1] - cu[b]);
      offsets.push_back(cu[b + 1]);
    }
    batch = static_cast<int64_t>(lengths.size());
    S = (*std::max_element(lengths.begin(), lengths.end()) + kSeqAlign - 1) / kSeqAlign * kSeqAlign;
    // cuDNN's Philox stream is keyed by a 64-bit seed: ours comes from the RngKey's first
    // block, so every (seed, step, rank, stream, substream) gets its own; the offset stays 0.
    // Each its own 16-byte aligned tensor, as the graph declares them.
    const PhiloxCounter draw = philox_block(key, 0);
    const int64_t seed = static_cast<int64_t>(draw.c[0] | (uint64_t{draw.c[1]} << 32)), offset = 0;
    seed_at_ = append(&seed, sizeof(seed));
    offset_at_ = append(&offset, sizeof(offset));
    lengths_at_ = append(lengths.data(), lengths.size() * sizeof(int32_t));
    offsets_at_ = append(offsets.data(), offsets.size() * sizeof(int32_t));
    graph_ = &state_.graph(GraphKey{backward, dtype, batch, S, NH, C / NH, dropout_p});
  }

  // Device buffers of the given sizes, valid until the next scratch request on the context.
  std::vector<char*> buffers(std::initializer_list<size_t> sizes) {
    int64_t workspace = 0;
    check(graph_->get_workspace_size(workspace), "get_workspace_size");
    ScratchPlan plan;
    std::vector<size_t> at{plan.add<char>(static_cast<int64_t>(params_.size()))};
    for (size_t bytes : sizes) at.push_back(plan.add<char>(static_cast<int64_t>(bytes)));
    at.push_back(plan.add<char>(workspace));
    char* base = static_cast<char*>(cc_.scratch(plan.bytes));
    params_on_device_ = base + at.front();
    workspace_ = base + at.back();
    // Pageable memory: the copy has read params_ when it returns.
    CUDA_CHECK(cudaMemcpyAsync(params_on_device_, params_.data(), params_.size(),
                               cudaMemcpyHostToDevice, cc_.stream()));
    std::vector<char*> result;
    for (size_t i = 1; i + 1 < at.size(); ++i) result.push_back(base + at[i]);
    return result;
  }

  // The non-empty sequences' offsets on the device (after buffers()), for the copies.
  const int32_t* offsets() const {
    return reinterpret_cast<const int32_t*>(params_on_device_ + offsets_at_);
  }

  // Runs the graph on `pack` (the tensors), adding the lengths and the dropout seed.
  void execute(std::unordered_map<int64_t, void*> pack, const char* what) {
    pack[SEQ_LEN_Q] = pack[SEQ_LEN_KV] = params_on_device_ + lengths_at_;
    if (dropout_) {
      pack[SEED] = params_on_device_ + seed_at_;
      pack[OFFSET] = params_on_device_ + offset_at_;
    }
    check(graph_->execute(state_.handle(), pack, workspace_), what);
  }

  int64_t batch = 0;  // B', the non-empty sequences
  int64_t S = 0;      // the padded length

 private:
  // Appends `bytes` to the parameter block at an aligned offset; returns the offset.
  size_t append(const void* data, size_t bytes) {
    const size_t at = (params_.size() + kParamAlign - 1) / kParamAlign * kParamAlign;
    params_.resize(at + bytes);
    std::memcpy(params_.data() + at, data, bytes);
    return at;
  }

  CudaContext& cc_;
  CudnnState& state_;
  bool dropout_;
  std::vector<char> params_;  // seed, offset, lengths, offsets (see above)
  size_t seed_at_ = 0, offset_at_ = 0, lengths_at_ = 0, offsets_at_ = 0;
  const fe::graph::Graph* graph_ = nullptr;
  char* params_on_device_ = nullptr;
  char* workspace_ = nullptr;
};

}  // namespace

void cudnn_attention_forward(CudaContext& cc, DType dtype, void* out, float* lse, const void* qkv,
                             const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C,
                             int64_t NH, float dropout_p, const RngKey& key) {
  check_args(cc, dtype, C, NH, "attention_forward");
  if (N == 0) return;
  PaddedCall call(cc, false, dtype, cu_seqlens, B, N, C, NH, dropout_p, key, "attention_forward");
  const int64_t Bp = call.batch, S = call.S;
  const size_t e = dtype_size(dtype);
  const std::vector<char*> buf =
      call.buffers({Bp * S * 3 * C * e, Bp * S * C * e, Bp * NH * S * sizeof(float)});
  char *qkv_p = buf[0], *out_p = buf[1];
  auto* stats = reinterpret_cast<float*>(buf[2]);
  pad_rows(cc, dtype, qkv_p, qkv, call.offsets(), Bp, S, 3 * C);
  call.execute({{Q, qkv_p}, {K, qkv_p + C * e}, {V, qkv_p + 2 * C * e}, {O, out_p}, {STATS, stats}},
               "running the forward");
  unpad_rows(cc, dtype, out, out_p, call.offsets(), Bp, S, C, /*accumulate=*/false);
  padded_to_lse(cc, lse, stats, call.offsets(), Bp, S, NH, N);
}

void cudnn_attention_backward(CudaContext& cc, DType dtype, void* dqkv, const void* dout,
                              const void* out, const void* qkv, const float* lse,
                              const int32_t* cu_seqlens, int64_t B, int64_t N, int64_t C,
                              int64_t NH, float dropout_p, const RngKey& key) {
  check_args(cc, dtype, C, NH, "attention_backward");
  if (N == 0) return;
  PaddedCall call(cc, true, dtype, cu_seqlens, B, N, C, NH, dropout_p, key, "attention_backward");
  const int64_t Bp = call.batch, S = call.S;
  const size_t e = dtype_size(dtype), qkv_bytes = Bp * S * 3 * C * e, out_bytes = Bp * S * C * e;
  const std::vector<char*> buf =
      call.buffers({qkv_bytes, qkv_bytes, out_bytes, out_bytes, Bp * NH * S * sizeof(float)});
  char *qkv_p = buf[0], *dqkv_p = buf[1], *out_p = buf[2], *dout_p = buf[3];
  auto* stats = reinterpret_cast<float*>(buf[4]);
  const int32_t* offsets = call.offsets();
  pad_rows(cc, dtype, qkv_p, qkv, offsets, Bp, S, 3 * C);
  pad_rows(cc, dtype, out_p, out, offsets, Bp, S, C);
  pad_rows(cc, dtype, dout_p, dout, offsets, Bp, S, C);
  lse_to_padded(cc, stats, lse, offsets, Bp, S, NH, N);
  call.execute({{Q, qkv_p}, {K, qkv_p + C * e}, {V, qkv_p + 2 * C * e}, {D_Q, dqkv_p},
                {D_K, dqkv_p + C * e}, {D_V, dqkv_p + 2 * C * e}, {O, out_p}, {D_O, dout_p},
                {STATS, stats}},
               "running the backward");
  unpad_rows(cc, dtype, dqkv, dqkv_p, offsets, Bp, S, 3 * C, /*accumulate=*/true);
}

}  // namespace masklm::cuda

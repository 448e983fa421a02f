// model.safetensors.index.json: its weight_map, and every shard name resolved against a model
// folder that holds a file, a subfolder and a link that leads out. A name that resolves must
// stay inside the folder.

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fuzz_target.h"
#include "ipfs_accel/core/json.h"
#include "models/model_folder.h"
#include "models/weights.h"

namespace {

namespace fs = std::filesystem;

// A model folder made once per process, left behind in the temp folder's fuzz area.
const fs::path& Folder() {
  static const fs::path dir = [] {
    const fs::path d =
        fs::temp_directory_path() / ("ipfs-accel-fuzz-" + std::to_string(::getpid())) / "model";
    fs::create_directories(d / "sub");
    std::ofstream(d / "model-00001-of-00002.safetensors") << "x";
    std::ofstream(d / "sub/shard.safetensors") << "x";
    std::error_code ec;
    fs::create_symlink("/etc", d / "out", ec);
    return fs::canonical(d);
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace models = ipfs_accel::models;
  ipfs_accel::fuzz::Expect([&] {
    const auto index = ipfs_accel::core::ParseJson(ipfs_accel::fuzz::AsText(data, size), "index");
    for (const std::string& shard : models::ShardNames(index, "index")) {
      ipfs_accel::fuzz::Expect([&] {
        const fs::path path = models::ResolveInModelFolder(Folder().string(), shard, "index");
        std::error_code ec;
        const fs::path real = fs::weakly_canonical(path, ec);
        if (ec) return;
        const auto [f, p] =
            std::mismatch(Folder().begin(), Folder().end(), real.begin(), real.end());
        if (f != Folder().end()) __builtin_trap();  // a name that led out was accepted
      });
    }
  });
  return 0;
}

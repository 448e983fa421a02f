#pragma once
// CARv1 files (github.com/ipld/specs, transport/car/carv1): a header, the dag-cbor map
// {"roots": [CID...], "version": 1}, then one section per block: varint(length of CID + block),
// the CID in binary, the block. The writer writes a file or folder's UnixFS DAG; the reader
// checks every block's sha2-256 against its CID before handing it out, so a caller never uses
// a byte that is not what its CID names.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipfs_accel/content/cid.h"
#include "ipfs_accel/content/unixfs.h"

namespace ipfs_accel::content {

// The CAR header for `roots`: varint length + dag-cbor map.
std::string CarHeader(const std::vector<Cid>& roots);
// One section: varint length + CID + block.
std::string CarSection(const Cid& cid, std::string_view block);

// Imports `source` (a file or folder, as ImportPath) and writes its DAG as a CAR to `car_path`
// with the root as its one root, every block once, each after the blocks it links to. Written
// to a temporary file renamed into place: a failure leaves no partial CAR. Throws ImportPath's
// errors and core::Error(kIo) when the CAR cannot be written.
ImportedPath WriteCarFile(const std::string& source, const std::string& car_path,
                          const ImportOptions& options = {});

struct CarBlock {
  Cid cid;
  std::string_view bytes;  // a view into the reader's input
};

class CarReader {
 public:
  // Reads the header of the CAR in `car` (which must outlive the reader). Throws
  // core::Error(kCorrupt) naming `name` when it is not a CARv1 header.
  CarReader(std::string_view car, std::string name);

  const std::vector<Cid>& roots() const { return roots_; }

  // The next block, its hash checked against its CID; nullopt at the end. Throws
  // core::Error(kCorrupt) naming the CID of a block whose bytes do not hash to it, or the
  // offset of a section that is cut short or malformed; kUnsupported for a hash other than
  // sha2-256.
  std::optional<CarBlock> Next();

 private:
  std::string_view car_;
  std::string name_;
  size_t pos_ = 0;
  std::vector<Cid> roots_;
};

}  // namespace ipfs_accel::content

#include <cmath>

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/preprocess/image.h"
#include "ipfs_accel/preprocess/image_processor.h"
#include "support/catch_error.h"
#include "support/media_writers.h"
#include "support/temp_dir.h"

namespace ipfs_accel::preprocess {
namespace image_test {

using core::ErrorKind;
using testing::CatchError;
using testing::TempDir;

// A row-major RGB image from a function of (x, y, channel).
template <typename F>
RgbImage MakeImage(int64_t width, int64_t height, F value) {
  RgbImage img{width, height, std::vector<uint8_t>(static_cast<size_t>(width * height * 3))};
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        img.pixels[static_cast<size_t>((y * width + x) * 3 + c)] =
            static_cast<uint8_t>(value(x, y, c));
  return img;
}

float PixelAt(const core::Tensor& t, int64_t c, int64_t y, int64_t x) {
  const int64_t h = t.shape[2], w = t.shape[3];
  return t.values<float>()[static_cast<size_t>((c * h + y) * w + x)];
}

// ------------------------------------------------------------------ decoding

TEST(ImageDecodeTest, RgbPngBecomesNormalisedChannelFirstPixels) {
  TempDir dir;
  // 4 wide, 3 high; pixel (x, y) = (10x + y, 100 + x, 250 - 20y).
  std::vector<uint8_t> rgb;
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      rgb.insert(rgb.end(), {uint8_t(10 * x + y), uint8_t(100 + x), uint8_t(250 - 20 * y)});
  testing::WriteRgbPng(dir.File("a.png"), 4, 3, rgb);

  ImageProcessorConfig config = DefaultImageProcessor("ViTImageProcessor");
  config.do_resize = false;
  const core::Tensor t = PreprocessImage(dir.File("a.png"), config);
  ASSERT_EQ(t.shape, (core::Shape{1, 3, 3, 4}));
  // ViT: (p / 255 - 0.5) / 0.5, the rescale in double rounded to float as numpy does.
  auto expected = [](int p) { return (static_cast<float>(p * (1.0 / 255.0)) - 0.5f) / 0.5f; };
  EXPECT_EQ(PixelAt(t, 0, 2, 3), expected(32));
  EXPECT_EQ(PixelAt(t, 1, 2, 3), expected(103));
  EXPECT_EQ(PixelAt(t, 2, 2, 3), expected(210));
  EXPECT_EQ(PixelAt(t, 0, 1, 0), expected(1));
  EXPECT_EQ(PixelAt(t, 2, 0, 1), expected(250));
}

TEST(ImageDecodeTest, GreyAlphaPaletteAnd16BitPngsConvertAsPilDoes) {
  TempDir dir;
  // 8-bit grey: replicated.
  testing::WritePng(dir.File("g.png"), 2, 1, PNG_COLOR_TYPE_GRAY, 8, {7, 200});
  RgbImage g = DecodeImage(dir.File("g.png"));
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{7, 7, 7, 200, 200, 200}));
  // 2-bit grey (values 0..3 packed high bits first): PIL's L;2 scales by 85.
  testing::WritePng(dir.File("g2.png"), 4, 1, PNG_COLOR_TYPE_GRAY, 2, {0b00011011});
  RgbImage g2 = DecodeImage(dir.File("g2.png"));
  EXPECT_EQ(g2.at(0, 1, 0), 85);
  EXPECT_EQ(g2.at(0, 3, 2), 255);
  // RGBA: alpha dropped, colour kept (no compositing on white).
  testing::WritePng(dir.File("rgba.png"), 1, 1, PNG_COLOR_TYPE_RGB_ALPHA, 8, {10, 20, 30, 0});
  EXPECT_EQ(DecodeImage(dir.File("rgba.png")).pixels, (std::vector<uint8_t>{10, 20, 30}));
  // Grey + alpha.
  testing::WritePng(dir.File("la.png"), 1, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, {77, 3});
  EXPECT_EQ(DecodeImage(dir.File("la.png")).pixels, (std::vector<uint8_t>{77, 77, 77}));
  // Palette: looked up.
  testing::WritePng(dir.File("p.png"), 2, 1, PNG_COLOR_TYPE_PALETTE, 8, {1, 0},
                    {{1, 2, 3}, {250, 128, 9}});
  EXPECT_EQ(DecodeImage(dir.File("p.png")).pixels, (std::vector<uint8_t>{250, 128, 9, 1, 2, 3}));
  // 16-bit RGB: the high byte; 16-bit grey: clipped at 255 (PIL's I;16 -> RGB).
  testing::WritePng(dir.File("rgb16.png"), 1, 1, PNG_COLOR_TYPE_RGB, 16,
                    {0x12, 0x34, 0xAB, 0xCD, 0x00, 0xFF});
  EXPECT_EQ(DecodeImage(dir.File("rgb16.png")).pixels, (std::vector<uint8_t>{0x12, 0xAB, 0x00}));
  testing::WritePng(dir.File("g16.png"), 2, 1, PNG_COLOR_TYPE_GRAY, 16, {0x00, 0x64, 0x01, 0x00});
  EXPECT_EQ(DecodeImage(dir.File("g16.png")).pixels,
            (std::vector<uint8_t>{100, 100, 100, 255, 255, 255}));
}

TEST(ImageDecodeTest, JpegDecodesGreyAndColourBlocks) {
  TempDir dir;
  // Flat 8x8 blocks survive quality-100 JPEG to within rounding of the colour transform.
  std::vector<uint8_t> rgb;
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 16; ++x)
      rgb.insert(rgb.end(), x < 8 ? std::initializer_list<uint8_t>{200, 30, 90}
                                  : std::initializer_list<uint8_t>{20, 220, 140});
  testing::WriteJpeg(dir.File("c.jpg"), 16, 8, 3, rgb);
  const RgbImage c = DecodeImage(dir.File("c.jpg"));
  ASSERT_EQ(c.width, 16);
  ASSERT_EQ(c.height, 8);
  EXPECT_NEAR(c.at(3, 2, 0), 200, 2);
  EXPECT_NEAR(c.at(3, 2, 1), 30, 2);
  EXPECT_NEAR(c.at(3, 2, 2), 90, 2);
  EXPECT_NEAR(c.at(5, 12, 0), 20, 2);
  EXPECT_NEAR(c.at(5, 12, 1), 220, 2);
  EXPECT_NEAR(c.at(5, 12, 2), 140, 2);

  testing::WriteJpeg(dir.File("g.jpg"), 8, 8, 1, std::vector<uint8_t>(64, 123));
  const RgbImage g = DecodeImage(dir.File("g.jpg"));
  EXPECT_EQ(g.at(4, 4, 0), 123);
  EXPECT_EQ(g.at(4, 4, 2), 123);
}

TEST(ImageDecodeTest, ExifOrientationRotatesTheImage) {
  TempDir dir;
  // 16 wide, 8 high: left half black, right half white. Orientation 6 (PIL: ROTATE_270, i.e.
  // 90 degrees clockwise) makes it 8 wide, 16 high with the black half on top.
  std::vector<uint8_t> grey(16 * 8);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 16; ++x) grey[y * 16 + x] = x < 8 ? 0 : 255;
  testing::WriteJpeg(dir.File("o6.jpg"), 16, 8, 1, grey, 6);
  const RgbImage r = DecodeImage(dir.File("o6.jpg"));
  ASSERT_EQ(r.width, 8);
  ASSERT_EQ(r.height, 16);
  EXPECT_LT(r.at(2, 4, 0), 10);
  EXPECT_GT(r.at(13, 4, 0), 245);
  // Orientation 8 (ROTATE_90, counter-clockwise): the black half at the bottom.
  testing::WriteJpeg(dir.File("o8.jpg"), 16, 8, 1, grey, 8);
  const RgbImage l = DecodeImage(dir.File("o8.jpg"));
  EXPECT_GT(l.at(2, 4, 0), 245);
  EXPECT_LT(l.at(13, 4, 0), 10);
}

TEST(ImageDecodeTest, BadFilesGiveTheRightErrorKind) {
  TempDir dir;
  EXPECT_EQ(CatchError([&] { DecodeImage(dir.File("missing.png")); }).kind(), ErrorKind::kNotFound);

  testing::WriteBytes(dir.File("text.png"), "this is not an image\n");
  const core::Error text = CatchError([&] { DecodeImage(dir.File("text.png")); });
  EXPECT_EQ(text.kind(), ErrorKind::kUnsupported);
  EXPECT_NE(std::string(text.what()).find("text.png"), std::string::npos);

  std::vector<uint8_t> rgb(64 * 64 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 2654435761u >> 24);
  testing::WriteRgbPng(dir.File("full.png"), 64, 64, rgb);
  const std::string png = testing::ReadBytes(dir.File("full.png"));
  testing::WriteBytes(dir.File("cut.png"), png.substr(0, png.size() / 2));
  const core::Error cut = CatchError([&] { DecodeImage(dir.File("cut.png")); });
  EXPECT_EQ(cut.kind(), ErrorKind::kCorrupt);
  EXPECT_NE(std::string(cut.what()).find("cut.png"), std::string::npos);

  testing::WriteJpeg(dir.File("full.jpg"), 64, 64, 3, rgb);
  const std::string jpg = testing::ReadBytes(dir.File("full.jpg"));
  testing::WriteBytes(dir.File("cut.jpg"), jpg.substr(0, jpg.size() / 2));
  EXPECT_EQ(CatchError([&] { DecodeImage(dir.File("cut.jpg")); }).kind(), ErrorKind::kCorrupt);
}

// ------------------------------------------------------------------ resampling

TEST(ImageResizeTest, BilinearDownscaleWidensTheTriangleByTheScale) {
  // 6 -> 2 pixels: scale 3, so the triangle reaches 3 input pixels each way. Output 0 has centre
  // 1.5 and takes inputs 0..4 with weights 1 - |x + 0.5 - 1.5| / 3 = 2/3, 1, 2/3, 1/3, 0 (sum 8/3)
  // -> .25, .375, .25, .125: 10*.25 + 40*.375 + 20*.25 + 90*.125 = 33.75 -> 34. Output 1 (centre
  // 4.5) takes inputs 2..5 with .125, .25, .375, .25: 2.5 + 22.5 + 75 + 18.25 = 118.25 -> 118.
  const int row[6] = {10, 40, 20, 90, 200, 73};
  const RgbImage in = MakeImage(6, 1, [&](int64_t x, int64_t, int) { return row[x]; });
  const RgbImage out = ResizeImage(in, 2, 1, Resample::kBilinear);
  ASSERT_EQ(out.width, 2);
  EXPECT_EQ(out.at(0, 0, 0), 34);
  EXPECT_EQ(out.at(0, 1, 1), 118);
}

TEST(ImageResizeTest, BilinearUpscaleKeepsTheUnitTriangle) {
  // 2 -> 4: centres 0.25, 0.75, 1.25, 1.75; the window [centre - 1 + .5, centre + 1 + .5)
  // truncated gives {0}, {0: .75, 1: .25}, {0: .25, 1: .75}, {1}.
  const RgbImage in = MakeImage(2, 1, [](int64_t x, int64_t, int) { return x == 0 ? 0 : 100; });
  const RgbImage out = ResizeImage(in, 4, 1, Resample::kBilinear);
  EXPECT_EQ(out.at(0, 0, 0), 0);
  EXPECT_EQ(out.at(0, 1, 0), 25);
  EXPECT_EQ(out.at(0, 2, 0), 75);
  EXPECT_EQ(out.at(0, 3, 0), 100);
}

TEST(ImageResizeTest, BicubicUsesKeysKernelWithMinusHalf) {
  // 2 -> 4, output 1 (centre 0.75): distances .25 and .75 -> w = 1.5|d|^3 - 2.5|d|^2 + 1:
  // 0.8671875 and 0.2265625; normalised, 100 * 0.2265625 / 1.09375 = 20.71 -> 21.
  const RgbImage in = MakeImage(2, 1, [](int64_t x, int64_t, int) { return x == 0 ? 0 : 100; });
  const RgbImage out = ResizeImage(in, 4, 1, Resample::kBicubic);
  EXPECT_EQ(out.at(0, 1, 0), 21);
  EXPECT_EQ(out.at(0, 2, 0), 79);
}

TEST(ImageResizeTest, TwoDimensionalDownscaleAveragesBlocks) {
  // 4x4 -> 2x2 bilinear: scale 2, weights over inputs 0..2 for output 0 are
  // 1 - |x + .5 - 1| / 2 = .75, .75, .25 (sum 1.75) -> 3/7, 3/7, 1/7. Rows and columns alike.
  const int v[4] = {0, 70, 140, 210};
  const RgbImage in = MakeImage(4, 4, [&](int64_t x, int64_t y, int c) {
    return c == 0 ? v[x] : c == 1 ? v[y] : 50;
  });
  const RgbImage out = ResizeImage(in, 2, 2, Resample::kBilinear);
  // Horizontal: (0*3 + 70*3 + 140) / 7 = 50 exactly; vertical the same for green.
  EXPECT_EQ(out.at(0, 0, 0), 50);
  EXPECT_EQ(out.at(0, 0, 1), 50);
  // Output 1 covers inputs 1..3 with 1/7, 3/7, 3/7: (70 + 420 + 630) / 7 = 160.
  EXPECT_EQ(out.at(1, 1, 0), 160);
  EXPECT_EQ(out.at(1, 0, 1), 160);
  EXPECT_EQ(out.at(1, 1, 2), 50);
}

TEST(ImageResizeTest, CenterCropPadsWithZerosWhenLarger) {
  const RgbImage in = MakeImage(3, 3, [](int64_t x, int64_t y, int) { return 1 + x + 3 * y; });
  // 3 -> 5: the image sits at offset 1 (ceil(2 / 2)).
  const RgbImage big = CenterCropImage(in, 5, 5);
  ASSERT_EQ(big.width, 5);
  ASSERT_EQ(big.height, 5);
  EXPECT_EQ(big.at(0, 0, 0), 0);
  EXPECT_EQ(big.at(1, 1, 0), 1);
  EXPECT_EQ(big.at(3, 3, 0), 9);
  EXPECT_EQ(big.at(4, 4, 0), 0);
  // 3 -> 2: offset floor(1 / 2) = 0.
  const RgbImage small = CenterCropImage(in, 2, 2);
  EXPECT_EQ(small.at(0, 0, 0), 1);
  EXPECT_EQ(small.at(1, 1, 0), 5);
}

// ------------------------------------------------------------------ processors

TEST(ImageProcessorTest, ClipDefaultsResizeShortestEdgeCropAndNormalise) {
  const ImageProcessorConfig c = ImageProcessorFromJson(
      nlohmann::json{{"image_processor_type", "CLIPImageProcessor"}}, "test.json");
  EXPECT_EQ(c.size.shortest_edge, 224);
  EXPECT_EQ(c.resample, Resample::kBicubic);
  EXPECT_TRUE(c.do_center_crop);
  EXPECT_EQ(c.crop_height, 224);
  // A flat 300x200 image: the short side to 224, the long to int(224 * 300 / 200) = 336, then
  // the centre 224x224; flat stays flat through PIL's normalised weights.
  const RgbImage in = MakeImage(300, 200, [](int64_t, int64_t, int ch) {
    return ch == 0 ? 255 : ch == 1 ? 0 : 128;
  });
  const core::Tensor t = PixelValues(in, c);
  ASSERT_EQ(t.shape, (core::Shape{1, 3, 224, 224}));
  const float r = (static_cast<float>(255 * (1.0 / 255.0)) - 0.48145466f) / 0.26862954f;
  const float b = (static_cast<float>(128 * (1.0 / 255.0)) - 0.40821073f) / 0.27577711f;
  EXPECT_EQ(PixelAt(t, 0, 100, 17), r);
  EXPECT_EQ(PixelAt(t, 2, 223, 223), b);
}

TEST(ImageProcessorTest, IntSizesFollowEachClassAndMissingKeysTakeDefaults) {
  // ViT reads an int size as a square.
  const ImageProcessorConfig vit = ImageProcessorFromJson(
      nlohmann::json{{"feature_extractor_type", "ViTFeatureExtractor"}, {"size", 32}}, "vit.json");
  EXPECT_EQ(vit.size.height, 32);
  EXPECT_EQ(vit.size.width, 32);
  EXPECT_EQ(vit.resample, Resample::kBilinear);
  EXPECT_EQ(vit.image_mean[0], 0.5f);
  // X-CLIP's real preprocessor_config.json: VideoMAE reads an int size as the shortest edge.
  const ImageProcessorConfig xclip = ImageProcessorFromJson(
      nlohmann::json::parse(R"({"crop_size": 224, "do_center_crop": true, "do_normalize": true,
        "do_resize": true, "feature_extractor_type": "VideoMAEFeatureExtractor",
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
        "processor_class": "XCLIPProcessor", "resample": 2, "size": 224})"),
      "xclip.json");
  EXPECT_EQ(xclip.processor_class, "VideoMAEImageProcessor");
  EXPECT_EQ(xclip.size.shortest_edge, 224);
  EXPECT_EQ(xclip.crop_width, 224);
  EXPECT_EQ(xclip.image_std[2], 0.225f);
  const core::Tensor t =
      PixelValues(MakeImage(320, 240, [](int64_t, int64_t, int) { return 9; }), xclip);
  EXPECT_EQ(t.shape, (core::Shape{1, 3, 224, 224}));
}

TEST(ImageProcessorTest, UnsupportedSettingsAreRefused) {
  EXPECT_EQ(CatchError([] {
              ImageProcessorFromJson(nlohmann::json{{"image_processor_type", "DetrImageProcessor"}},
                                     "x.json");
            }).kind(),
            ErrorKind::kUnsupported);
  EXPECT_EQ(CatchError([] {
              ImageProcessorFromJson(
                  nlohmann::json{{"image_processor_type", "CLIPImageProcessor"}, {"resample", 0}},
                  "x.json");
            }).kind(),
            ErrorKind::kUnsupported);
  EXPECT_EQ(CatchError([] {
              ImageProcessorFromJson(nlohmann::json{{"image_processor_type", "ViTImageProcessor"},
                                                    {"image_mean", {0.5, 0.5}}},
                                     "x.json");
            }).kind(),
            ErrorKind::kCorrupt);
  EXPECT_EQ(CatchError([] {
              ImageProcessorFromJson(nlohmann::json{{"image_processor_type", "ViTImageProcessor"},
                                                    {"size", {{"shortest_edge", 224}}}},
                                     "x.json");
            }).kind(),
            ErrorKind::kUnsupported);
}

TEST(ImageProcessorTest, ModelFolderWithoutPreprocessorConfigUsesItsImageSize) {
  const std::string shared = IPFS_ACCEL_SHARED_DIR;
  const ImageProcessorConfig vit = LoadImageProcessor(shared + "/fixtures/hf-tiny/vit");
  EXPECT_EQ(vit.processor_class, "ViTImageProcessor");
  EXPECT_EQ(vit.size.height, 32);
  const ImageProcessorConfig clip = LoadImageProcessor(shared + "/fixtures/hf-tiny/clip");
  EXPECT_EQ(clip.processor_class, "CLIPImageProcessor");
  EXPECT_EQ(clip.size.shortest_edge, 32);
  EXPECT_EQ(clip.crop_height, 32);

  TempDir dir;
  testing::WriteBytes(
      dir.File("preprocessor_config.json"),
      R"({"image_processor_type": "ViTImageProcessor", "size": {"height": 8, "width": 12}})");
  const ImageProcessorConfig file = LoadImageProcessor(dir.path().string());
  EXPECT_EQ(file.size.width, 12);
  EXPECT_EQ(file.origin, dir.File("preprocessor_config.json"));
  EXPECT_EQ(CatchError([&] { LoadImageProcessor(dir.File("nope")); }).kind(), ErrorKind::kNotFound);
}

// ------------------------------------------------------------------ video

// A catalog model has no folder: its config alone picks the class and sizes. X-CLIP's
// model_type is "xclip" (VideoMAE's processor), CLIP's vision size sits in vision_config.
TEST(ImageProcessorTest, ModelConfigAlonePicksClassAndSize) {
  const auto xclip = ImageProcessorForModel(
      {{"model_type", "xclip"}, {"vision_config", {{"image_size", 224}}}}, "catalog:xclip");
  EXPECT_EQ(xclip.processor_class, "VideoMAEImageProcessor");
  EXPECT_EQ(xclip.size.shortest_edge, 224);
  EXPECT_EQ(xclip.crop_height, 224);
  const auto vit = ImageProcessorForModel({{"model_type", "vit"}, {"image_size", 384}}, "vit");
  EXPECT_EQ(vit.size.height, 384);
  EXPECT_EQ(vit.size.width, 384);
  EXPECT_EQ(CatchError([] {
              ImageProcessorForModel({{"model_type", "bert"}}, "bert");
            }).kind(),
            ErrorKind::kUnsupported);
}

TEST(VideoTest, FramesAreSampledUniformlyAndStacked) {
  EXPECT_EQ(SampleFrameIndices(10, 5), (std::vector<int64_t>{0, 2, 4, 6, 8}));
  EXPECT_EQ(SampleFrameIndices(10, 4), (std::vector<int64_t>{0, 2, 5, 7}));  // 0, 2.5, 5, 7.5
  EXPECT_EQ(SampleFrameIndices(3, 3), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(CatchError([] { SampleFrameIndices(3, 4); }).kind(), ErrorKind::kInvalidArgument);

  TempDir dir;
  // Frames named out of creation order; each flat grey 10 * index.
  for (int i = 0; i < 6; ++i) {
    std::vector<uint8_t> rgb(8 * 6 * 3, static_cast<uint8_t>(10 * i));
    testing::WriteRgbPng(dir.File("frame_" + std::to_string(i) + ".png"), 8, 6, rgb);
  }
  testing::WriteBytes(dir.File("notes.txt"), "not a frame");
  const std::vector<std::string> files = ListFrameFiles(dir.path().string());
  ASSERT_EQ(files.size(), 6u);
  EXPECT_EQ(files[0], dir.File("frame_0.png"));

  ImageProcessorConfig c = DefaultImageProcessor("VideoMAEImageProcessor");
  c.size.shortest_edge = 4;
  c.crop_height = c.crop_width = 4;
  const core::Tensor v = PreprocessVideo(files, c, 3);  // frames 0, 2, 4
  ASSERT_EQ(v.shape, (core::Shape{1, 3, 3, 4, 4}));
  const auto values = v.values<float>();
  const size_t frame = 3 * 4 * 4;
  auto expected = [](int p) { return (static_cast<float>(p * (1.0 / 255.0)) - 0.5f) / 0.5f; };
  EXPECT_EQ(values[0], expected(0));
  EXPECT_EQ(values[frame + 5], expected(20));
  EXPECT_EQ(values[2 * frame + 47], expected(40));
  // Without num_frames every frame is kept.
  EXPECT_EQ(PreprocessVideo(files, c).shape[1], 6);
}

}  // namespace image_test
}  // namespace ipfs_accel::preprocess

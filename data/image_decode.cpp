// PNG and JPEG decoding. libjpeg reports errors by calling a function that
// must not return, so its calls are confined to read_jpeg(), which catches
// them with setjmp/longjmp and holds no C++ objects that need destruction.
#include <png.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

// jpeglib.h uses FILE and size_t without including their headers, so it comes after <cstdio>.
// clang-format off
#include <jpeglib.h>
// clang-format on

#include "core/error.h"
#include "data/image.h"

namespace diffuse {

namespace {

Image decode_png(const std::string& path) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  const bool began = png_image_begin_read_from_file(&png, path.c_str()) != 0;
  DIFFUSE_CHECK(began, "cannot decode PNG ", path, ": ", png.message);
  png.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;  // 16-bit samples are scaled, not treated as linear light
  Image image;
  image.height = png.height;
  image.width = png.width;
  image.channels = (png.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
  png.format = image.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  // Zeroed, because libpng composites any alpha onto what the buffer holds.
  image.pixels.assign(PNG_IMAGE_SIZE(png), 0);
  const bool finished = png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr) != 0;
  const std::string message = png.message;
  png_image_free(&png);
  DIFFUSE_CHECK(finished, "cannot decode PNG ", path, ": ", message);
  return image;
}

struct JpegErrors {
  jpeg_error_mgr manager;  // first, so libjpeg's pointer to it is a pointer to us
  std::jmp_buf escape;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_jpeg_error(j_common_ptr decoder) {
  JpegErrors* errors = reinterpret_cast<JpegErrors*>(decoder->err);
  decoder->err->format_message(decoder, errors->message);
  std::longjmp(errors->escape, 1);
}

// Warnings (level -1) are about corrupt data, such as a truncated file padded with gray: treat them as errors.
void on_jpeg_message(j_common_ptr decoder, int level) {
  if (level < 0) on_jpeg_error(decoder);
}

// Decodes into `image`; false (with errors.message set) on failure. The
// caller destroys the decoder either way.
bool read_jpeg(std::FILE* file, jpeg_decompress_struct& decoder, JpegErrors& errors, Image& image) {
  if (setjmp(errors.escape)) return false;
  jpeg_create_decompress(&decoder);
  jpeg_stdio_src(&decoder, file);
  jpeg_read_header(&decoder, TRUE);
  if (decoder.jpeg_color_space == JCS_CMYK || decoder.jpeg_color_space == JCS_YCCK) {
    std::snprintf(errors.message, sizeof(errors.message), "CMYK JPEGs are not supported");
    return false;
  }
  decoder.out_color_space = decoder.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&decoder);
  image.height = decoder.output_height;
  image.width = decoder.output_width;
  image.channels = decoder.output_components;
  image.pixels.resize(static_cast<size_t>(image.height * image.width * image.channels));
  while (decoder.output_scanline < decoder.output_height) {
    JSAMPROW row = image.pixels.data() + static_cast<size_t>(decoder.output_scanline) * image.width * image.channels;
    jpeg_read_scanlines(&decoder, &row, 1);
  }
  jpeg_finish_decompress(&decoder);
  return true;
}

Image decode_jpeg(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  DIFFUSE_CHECK(file != nullptr, "cannot open ", path, ": ", std::strerror(errno));
  jpeg_decompress_struct decoder;
  std::memset(&decoder, 0, sizeof(decoder));
  JpegErrors errors;
  std::memset(&errors, 0, sizeof(errors));
  decoder.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = on_jpeg_error;
  errors.manager.emit_message = on_jpeg_message;
  Image image;
  const bool decoded = read_jpeg(file.get(), decoder, errors, image);
  jpeg_destroy_decompress(&decoder);
  DIFFUSE_CHECK(decoded, "cannot decode JPEG ", path, ": ", errors.message);
  return image;
}

}  // namespace

Image decode_image(const std::string& path) {
  unsigned char signature[8] = {};
  {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
    DIFFUSE_CHECK(file != nullptr, "cannot open ", path, ": ", std::strerror(errno));
    DIFFUSE_CHECK(std::fread(signature, 1, sizeof(signature), file.get()) == sizeof(signature), "image ", path,
                  " is too short to be a PNG or JPEG file");
  }
  if (png_sig_cmp(signature, 0, sizeof(signature)) == 0) return decode_png(path);
  if (signature[0] == 0xFF && signature[1] == 0xD8 && signature[2] == 0xFF) return decode_jpeg(path);
  DIFFUSE_CHECK(false, "image ", path, " is neither a PNG nor a JPEG file");
  return Image();
}

}  // namespace diffuse

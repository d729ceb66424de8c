// `diffuse prepare <source>`: converts public datasets and image folders to
// diffuse's HDF5 dataset files, printing one summary line per file written.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "data/convert.h"

namespace diffuse::cli {

namespace {

// Everything the prepare subcommands parse; shared by their callbacks.
struct PrepareArguments {
  std::string source;
  std::string output;
  std::string images;
  std::string labels;
  int pad_to = 32;
  int64_t num_classes = 0;
  int size = 0;
  bool overwrite = false;

  Overwrite overwrite_policy() const { return overwrite ? Overwrite::Replace : Overwrite::Refuse; }
};

void print_summary(const std::vector<ConvertedFile>& files) {
  for (const ConvertedFile& file : files) {
    std::printf("wrote %s: %s\n", file.path.c_str(), describe_dataset(file.info).c_str());
  }
}

void add_overwrite_flag(CLI::App* command, PrepareArguments& arguments) {
  command->add_flag("--overwrite", arguments.overwrite, "Replace output files that already exist");
}

}  // namespace

void add_prepare_command(CLI::App& app) {
  auto arguments = std::make_shared<PrepareArguments>();
  CLI::App* prepare = app.add_subcommand("prepare", "Convert a dataset to diffuse's HDF5 format");
  prepare->require_subcommand(1);

  CLI::App* fashion =
      prepare->add_subcommand("fashion-mnist", "Fashion-MNIST IDX files -> train.h5, test.h5 (32x32x1)");
  fashion->add_option("--out", arguments->output, "Output directory")->required();
  arguments->source = kFashionMnistDirectory;
  fashion->add_option("--src", arguments->source, "Directory with the IDX files (.gz or not)")->capture_default_str();
  add_overwrite_flag(fashion, *arguments);
  fashion->callback([arguments] {
    print_summary(convert_fashion_mnist(arguments->source, arguments->output, arguments->overwrite_policy()));
  });

  CLI::App* idx = prepare->add_subcommand("idx", "MNIST-style IDX image and label files -> one dataset file");
  idx->add_option("--images", arguments->images, "IDX ubyte image file [N, H, W] (.gz or not)")->required();
  idx->add_option("--labels", arguments->labels, "IDX ubyte label file [N] (.gz or not); omit for no labels");
  idx->add_option("--out", arguments->output, "Output dataset file (.h5)")->required();
  idx->add_option("--pad-to", arguments->pad_to, "Pad images with zeros, centred, to this size; 0 keeps their size")
      ->capture_default_str();
  idx->add_option("--num-classes", arguments->num_classes, "Number of classes; 0 means the largest label + 1")
      ->capture_default_str();
  add_overwrite_flag(idx, *arguments);
  idx->callback([arguments] {
    IdxConversion conversion;
    conversion.images_path = arguments->images;
    conversion.labels_path = arguments->labels;
    conversion.output_path = arguments->output;
    conversion.pad_to = arguments->pad_to;
    conversion.num_classes = arguments->num_classes;
    conversion.overwrite = arguments->overwrite_policy();
    print_summary({convert_idx(conversion)});
  });

  CLI::App* cifar = prepare->add_subcommand("cifar10", "CIFAR-10 binary batches -> train.h5, test.h5 (32x32x3)");
  cifar->add_option("--src", arguments->source, "Directory with data_batch_1..5.bin and test_batch.bin")->required();
  cifar->add_option("--out", arguments->output, "Output directory")->required();
  add_overwrite_flag(cifar, *arguments);
  cifar->callback([arguments] {
    print_summary(convert_cifar10(arguments->source, arguments->output, arguments->overwrite_policy()));
  });

  CLI::App* folder = prepare->add_subcommand("folder", "Image folders (one subfolder per class, PNG/JPEG) -> one file");
  folder->add_option("--src", arguments->source, "Directory with one subfolder per class")->required();
  folder->add_option("--size", arguments->size, "Side of the square output images")
      ->required()
      ->check(CLI::Range(1, 1 << 16));
  folder->add_option("--out", arguments->output, "Output dataset file (.h5)")->required();
  add_overwrite_flag(folder, *arguments);
  folder->callback([arguments] {
    print_summary(
        {convert_folder(arguments->source, arguments->size, arguments->output, arguments->overwrite_policy())});
  });
}

}  // namespace diffuse::cli

#include "trainer/distiller.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "diffusion/distillation.h"
#include "distributed/rank_agreement.h"
#include "io/atomic_file.h"
#include "io/run_directory_lock.h"
#include "run/checkpoint_model.h"
#include "run/model_setup.h"
#include "run/run_session.h"
#include "trainer/consistency_distillation.h"
#include "trainer/distillation_step.h"

namespace diffuse {

namespace fs = std::filesystem;

namespace {

std::string stage_directory(const std::string& run_dir, size_t stage, int student_steps) {
  return (fs::path(run_dir) / concat("stage-", stage + 1, "-", student_steps, "steps")).string();
}

// Both methods step the teacher's probability-flow ODE, which a consistency model does not have.
void check_has_ode(const CheckpointModel& teacher, const std::string& path) {
  DIFFUSE_CHECK(teacher.config.diffusion.formulation != Formulation::kConsistency, "teacher ", path,
                " has diffusion.formulation consistency, which has no ODE step to teach with: distil from a ",
                "diffusion model (diffusion.formulation vp or edm)");
  DIFFUSE_CHECK(teacher.meta.method != name_of(kDistillMethodNames, DistillMethod::kConsistency), "teacher ", path,
                " is a consistency student, which has no ODE step to teach with: distil from a diffusion model ",
                "(diffusion.formulation vp or edm)");
}

// The teacher must be a continuous-time model predicting x or v, or an EDM model (whose D is a data prediction
// with a skip connection): its DDIM steps then land exactly on t - 1/(2N).
void check_teacher(const CheckpointModel& teacher, const std::string& path) {
  const DiffusionConfig& diffusion = teacher.config.diffusion;
  check_has_ode(teacher, path);
  if (diffusion.formulation == Formulation::kEdm) return;  // its schedule is cosine_continuous, as config requires
  DIFFUSE_CHECK(diffusion.schedule == ScheduleKind::CosineContinuous, "teacher ", path, " was trained with schedule '",
                name_of(kScheduleNames, diffusion.schedule),
                "'; distillation needs diffusion.schedule cosine_continuous (continuous time)");
  DIFFUSE_CHECK(diffusion.prediction == Prediction::X0 || diffusion.prediction == Prediction::V, "teacher ", path,
                " predicts '", prediction_name(diffusion.prediction),
                "'; distillation needs diffusion.prediction x0 or v (eps is unstable at high noise in few steps)");
}

// The training run of one stage: the teacher's model, the distillation learning-rate schedule, sample grids
// with the student's own step count, and a seed of its own so stages draw different noise.
Config stage_config(const Config& config, const Config& teacher, size_t stage, int student_steps) {
  Config stage_run = config;
  stage_run.model = teacher.model;
  stage_run.diffusion = teacher.diffusion;
  // The student's checkpoints record the weighting it learnt with; EDM's diffusion.loss_weight stays its own.
  if (teacher.diffusion.formulation == Formulation::kVp) stage_run.diffusion.loss_weight = config.distill.loss_weight;
  stage_run.diffusion.min_snr_gamma = kDefaultMinSnrGamma;  // a min_snr teacher's gamma is not the student's
  stage_run.seed = config.seed + stage;
  stage_run.train.steps = config.distill.steps_per_stage;
  stage_run.train.lr = config.distill.lr;
  stage_run.train.warmup_steps = 0;
  stage_run.train.lr_decay = LrDecay::kLinear;
  stage_run.sample.sampler = SamplerKind::kDdim;
  stage_run.sample.eta = 0.0;
  stage_run.sample.s_churn = 0.0;  // churn is not DDIM's
  stage_run.sample.steps = student_steps;
  return stage_run;
}

// Where a distillation continues: the first stage without a finished checkpoint, and the checkpoint to
// resume it from ("" = start the stage).
struct ResumePoint {
  size_t stage = 0;
  std::string checkpoint;
};

ResumePoint find_resume_point(const std::string& run_dir, const std::vector<int>& stages, int64_t steps_per_stage) {
  for (size_t stage = 0; stage < stages.size(); ++stage) {
    const std::string newest = newest_complete_checkpoint(stage_directory(run_dir, stage, stages[stage]));
    if (newest.empty()) return {stage, ""};
    if (read_checkpoint_meta(newest).step < steps_per_stage) return {stage, newest};
  }
  return {stages.size(), ""};
}

// RUN/teacher records which teacher a distillation learns from, so that a resume with another is refused.
void check_or_record_teacher(const std::string& run_dir, const std::string& teacher, int64_t teacher_step) {
  const fs::path record = fs::path(run_dir) / "teacher";
  const std::string identity = concat(fs::absolute(teacher).lexically_normal().string(), " step ", teacher_step);
  std::ifstream existing(record);
  std::string recorded;
  if (existing && std::getline(existing, recorded)) {
    DIFFUSE_CHECK(recorded == identity, "run directory ", run_dir, " distills ", recorded, ", not ", identity,
                  ": use the same --teacher or another --run-dir");
    return;
  }
  std::error_code error;
  fs::create_directories(run_dir, error);
  DIFFUSE_CHECK(!error, "cannot create run directory ", run_dir, ": ", error.message());
  write_file_atomically(record.string(), identity + "\n");
}

void run_consistency_distillation(const DistillOptions& options, const EvaluatorFactory& make_evaluator) {
  std::unique_ptr<CheckpointModel> teacher = load_checkpoint_model(options.teacher, "first");
  check_has_ode(*teacher, options.teacher);
  DIFFUSE_CHECK(options.resume.empty() || options.resume == "auto", "distill --resume takes 'auto', got '",
                options.resume, "'");
  RunSession session(options.config_path, options.overrides, SessionKind::kTraining);
  Communicator& communicator = session.communicator();
  const DeviceChoice& device = session.device_choice();
  if (device.device != Device::CPU) teacher = checkpoint_model_on(*teacher, device.device);
  const Config run = consistency_distillation_config(session.config(), teacher->config);

  std::optional<RunDirectoryLock> lock;  // rank 0's, held for the whole distillation
  const std::string checkpoint = decided_on_rank_zero(communicator, [&] {
    lock.emplace(options.run_dir);
    const std::string newest = options.resume == "auto" ? newest_complete_checkpoint(options.run_dir) : "";
    check_or_record_teacher(options.run_dir, options.teacher, teacher->meta.step);
    return newest;
  });
  Evaluator evaluator;
  if (run.train.eval_every > 0) {
    DIFFUSE_CHECK(make_evaluator, "train.eval_every is set but this program cannot evaluate during distillation");
    evaluator = make_evaluator(run, communicator);
  }
  Trainer trainer(run, device.device, options.run_dir, communicator, !checkpoint.empty());
  if (checkpoint.empty()) {
    trainer.start_from_weights(teacher->store.params());
  } else {
    trainer.resume_from(checkpoint);
  }
  ConsistencyDistillation loss(run, *teacher->unet, device.device);
  loss.install(trainer);
  trainer.set_evaluator(std::move(evaluator));
  if (session.rank() == 0)
    log_info("consistency distillation of ", options.teacher, " on ", loss.objective().levels, " levels (",
             run.diffusion.formulation == Formulation::kEdm ? "heun" : "ddim", " teacher steps), target EMA ",
             run.consistency.target_ema, ", ", run.train.steps, " steps on ", device.description);
  if (trainer.run() == RunOutcome::kStopped) {
    if (session.rank() == 0)
      log_info("stopped at step ", trainer.step(), ": wrote ", checkpoint_path(options.run_dir, trainer.step()),
               "; to continue, run the same command with --resume auto");
    return;
  }
  if (session.rank() == 0) log_info("done: one-step consistency student ", newest_checkpoint(options.run_dir));
}

}  // namespace

std::vector<int> distillation_stages(int from_steps, int to_steps) {
  DIFFUSE_CHECK(halves_to(from_steps, to_steps), "--to ", to_steps, " must be --from ", from_steps,
                " divided by a power of two (--from 1024 --to 4, 2 or 1, say)");
  std::vector<int> stages;
  for (int steps = from_steps / 2; steps >= to_steps; steps /= 2) stages.push_back(steps);
  return stages;
}

void run_distillation(const DistillOptions& given, const EvaluatorFactory& make_evaluator) {
  // --method is distill.method set on the command line, so the runs' stored configs record it.
  DistillOptions options = given;
  if (given.method) options.overrides.push_back(concat("distill.method=", name_of(kDistillMethodNames, *given.method)));
  if (load_config(options.config_path, options.overrides).distill.method == DistillMethod::kConsistency)
    return run_consistency_distillation(options, make_evaluator);
  // The teacher first: a distilled teacher's own step count is where the next distillation starts.
  std::unique_ptr<CheckpointModel> teacher = load_checkpoint_model(options.teacher, "first");
  check_teacher(*teacher, options.teacher);
  DIFFUSE_CHECK(options.resume.empty() || options.resume == "auto", "distill --resume takes 'auto', got '",
                options.resume, "'");
  const Config defaults = load_config(options.config_path, options.overrides);
  const int from_steps = options.from_steps > 0             ? options.from_steps
                         : teacher->meta.sampling_steps > 0 ? teacher->meta.sampling_steps
                                                            : defaults.distill.from_steps;
  const int to_steps = options.to_steps > 0 ? options.to_steps : defaults.distill.to_steps;
  const std::vector<int> stages = [&] {
    try {
      return distillation_stages(from_steps, to_steps);
    } catch (const Error& error) {
      if (options.from_steps > 0 || teacher->meta.sampling_steps == 0) throw;
      throw Error(concat("teacher ", options.teacher, " samples in ", from_steps, " steps: ", error.what()));
    }
  }();
  std::vector<std::string> overrides = options.overrides;
  overrides.push_back(concat("distill.from_steps=", from_steps));
  overrides.push_back(concat("distill.to_steps=", to_steps));
  RunSession session(options.config_path, overrides, SessionKind::kTraining);
  const Config& config = session.config();
  Communicator& communicator = session.communicator();
  const int rank = session.rank();
  const DeviceChoice& device = session.device_choice();
  // The teacher runs beside the student, on this rank's GPU.
  if (device.device != Device::CPU) teacher = checkpoint_model_on(*teacher, device.device);
  const ThreadChoice& threads = session.threads();

  // Rank 0 locks and checks the run directory and decides where to continue; every rank follows.
  std::optional<RunDirectoryLock> lock;  // rank 0's, held for the whole distillation
  const std::string decision = decided_on_rank_zero(communicator, [&] {
    lock.emplace(options.run_dir);
    ResumePoint resume;
    if (options.resume == "auto") {
      resume = find_resume_point(options.run_dir, stages, config.distill.steps_per_stage);
    } else {
      for (size_t stage = 0; stage < stages.size(); ++stage) {
        const std::string directory = stage_directory(options.run_dir, stage, stages[stage]);
        DIFFUSE_CHECK(newest_checkpoint(directory).empty(), "run directory ", directory,
                      " already holds checkpoints: continue it with --resume auto, or choose another --run-dir");
      }
    }
    check_or_record_teacher(options.run_dir, options.teacher, teacher->meta.step);
    return concat(resume.stage, "\n", resume.checkpoint);
  });
  ResumePoint resume;
  const size_t newline = decision.find('\n');
  resume.stage = std::stoul(decision.substr(0, newline));
  resume.checkpoint = decision.substr(newline + 1);

  // Built once the directory is known to be usable and before any stage trains, so bad evaluation inputs
  // fail first; rebuilt per stage because the students sample in their own step counts.
  const auto evaluator_for = [&](const Config& stage_run) {
    DIFFUSE_CHECK(make_evaluator, "train.eval_every is set but this program cannot evaluate during distillation");
    return make_evaluator(stage_run, communicator);
  };
  if (rank == 0) {
    log_info("distilling ", options.teacher, " from ", from_steps, " to ", to_steps, " sampling steps in ",
             stages.size(), " stage(s) of ", config.distill.steps_per_stage, " steps on ", device.description, ", ",
             threads.threads, " thread(s) per rank");
    if (resume.stage == stages.size()) log_info("every stage in ", options.run_dir, " is already finished");
  }

  for (size_t stage = resume.stage; stage < stages.size(); ++stage) {
    // The stage's teacher: the original one, or the previous stage's final student (rank 0 names it).
    if (stage > 0) {
      const std::string previous = decided_on_rank_zero(communicator, [&] {
        const std::string newest = newest_checkpoint(stage_directory(options.run_dir, stage - 1, stages[stage - 1]));
        DIFFUSE_CHECK(!newest.empty(), "stage ", stage, " of ", options.run_dir, " has no checkpoint to teach stage ",
                      stage + 1);
        return newest;
      });
      teacher = load_checkpoint_model(previous, "first", device.device);
    }
    const int student_steps = stages[stage];
    const Config stage_run = stage_config(config, teacher->config, stage, student_steps);
    Evaluator evaluator;
    if (stage_run.train.eval_every > 0) evaluator = evaluator_for(stage_run);
    const std::string directory = stage_directory(options.run_dir, stage, student_steps);
    const bool resuming = stage == resume.stage && !resume.checkpoint.empty();
    Trainer trainer(stage_run, device.device, directory, communicator, resuming);
    if (resuming) {
      trainer.resume_from(resume.checkpoint);
    } else {
      trainer.start_from_weights(teacher->store.params());
    }
    DiffusionSetup setup = diffusion_setup(stage_run);
    setup.weighting = config.distill.loss_weight;
    model::UNet& teacher_unet = *teacher->unet;
    trainer.set_micro_step([&](model::UNet& student, const MicroBatch& batch, const ops::LossScale& loss_scale) {
      return distill_micro_batch(student, teacher_unet, setup, student_steps, stage_run.seed, batch, loss_scale);
    });
    trainer.set_student(name_of(kDistillMethodNames, DistillMethod::kProgressive), student_steps);
    // One TensorBoard run per stage, side by side under `tensorboard --logdir RUN/tensorboard`.
    trainer.set_tensorboard_directory(
        (fs::path(options.run_dir) / "tensorboard" / fs::path(directory).filename()).string());
    trainer.set_progress_label(
        concat("stage ", stage + 1, "/", stages.size(), " (", student_steps, " steps)"),
        {{"stage", static_cast<double>(stage + 1)}, {"sampling_steps", static_cast<double>(student_steps)}});
    trainer.set_evaluator(std::move(evaluator));
    if (trainer.run() == RunOutcome::kStopped) {
      if (rank == 0)
        log_info("stopped in stage ", stage + 1, " at step ", trainer.step(), ": wrote ",
                 checkpoint_path(directory, trainer.step()), "; to continue, run the same command with --resume auto");
      return;
    }
    if (rank == 0)
      log_info("stage ", stage + 1, " done: ", student_steps, "-step student ", newest_checkpoint(directory));
  }
}

}  // namespace diffuse

"""The retraining pipeline and the Trainer's parts, one role per module; ``training_pipeline`` wires them.

    training_pipeline     the TFX graph (create_pipeline) and dermflow train's local run (run_training)
    training_run_summary  what a run did, read back from ML Metadata: pushed, version, reason, metrics
    trainer_module        the Trainer's run_fn: two-phase transfer learning, then the export
    trainer_input         tf.data over ClassFilter's examples: decode + resize by the one image path, class weights
    trainer_augmentation  the training-only augmentation layers around the classifier
    trainer_feature_cache the frozen trunk's activations computed once per image and flip (train.feature_cache)
    trainer_callbacks     eval-set metrics (ISIC balanced accuracy), history rows, weight averaging
    trainer_progress      checkpoints under paths.work_dir, so a killed Trainer resumes
    trainer_calibration   after training: the trust values fitted on held-out data
    trainer_console       one line per epoch
"""

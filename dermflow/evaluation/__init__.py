"""Model evaluation: ISIC metrics for TFMA, the EvalConfig, and reading TFMA's results back."""

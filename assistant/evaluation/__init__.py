"""The evaluation suite: cases in `evals/cases/*.yaml`, metrics, runner and reports."""

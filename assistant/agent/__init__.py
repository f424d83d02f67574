"""The retrieval agent behind the `openai` backend: numbered passages, corpus tools, a
bounded tool-calling loop, and one bounded, retried, streamed model call."""

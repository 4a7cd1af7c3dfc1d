"""mulcot-openai: a teacher (``openai``) and a zero-shot baseline (``openai-zero-shot``) on any
OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, Ollama, llama.cpp server, a hosted API)."""

"""One small wrapper per external tool (uv, docker, git), over one process runner."""

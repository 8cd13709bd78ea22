# The training image: the job runs in it next to the tracking server (docker compose up).
FROM python:3.9-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY src/ ./src/
COPY train.py .
CMD ["python", "train.py"]

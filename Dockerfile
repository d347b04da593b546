# Production image: uvicorn[standard] workers in front of PostgreSQL (DATABASE_URL).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ENV=production \
    WEB_CONCURRENCY=2

# WeasyPrint needs Pango and fonts for the PDF board report.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 app
WORKDIR /app
# Dependencies from the lock file, each checked against its hash; then the project, without dependencies.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY api ./api
RUN pip install --no-deps -e .
COPY alembic.ini ./
COPY migrations ./migrations
COPY assessments ./assessments
COPY web ./web
RUN mkdir -p /app/var && chown app:app /app/var

USER app
EXPOSE 8000
# Apply migrations and load framework files, then serve (WEB_CONCURRENCY workers). DATABASE_URL and
# SECRET_KEY must be set; TRUSTED_PROXIES names the proxies whose X-Forwarded-* headers are believed.
CMD ["sh", "-c", "python -m api bootstrap --no-demo && exec python -m api serve --host 0.0.0.0 --port 8000"]

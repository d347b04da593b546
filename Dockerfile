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
COPY pyproject.toml README.md ./
COPY api ./api
RUN pip install -e .
COPY alembic.ini ./
COPY migrations ./migrations
COPY assessments ./assessments
COPY web ./web
RUN mkdir -p /app/var && chown app:app /app/var

USER app
EXPOSE 8000
# Apply migrations and load framework files, then serve. DATABASE_URL and SECRET_KEY must be set.
CMD ["sh", "-c", "python -m api bootstrap --no-demo && exec uvicorn api.asgi:app --host 0.0.0.0 --port 8000 --workers ${WEB_CONCURRENCY} --http httptools --loop uvloop --proxy-headers --forwarded-allow-ips=${FORWARDED_ALLOW_IPS:-127.0.0.1} --no-server-header"]

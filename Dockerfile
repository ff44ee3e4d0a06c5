# One image for every claimline service; compose.yaml and deploy/ choose the service by command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY claimline ./claimline
COPY shared ./shared
COPY services ./services
COPY samples ./samples
RUN pip install --no-cache-dir . && useradd --system --uid 10001 claimline
USER claimline
EXPOSE 8080 8091 8092 8093 8094
CMD ["claimline", "run", "gateway"]

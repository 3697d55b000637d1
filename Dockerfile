# The service image: the panel, the API, the websockets and the AMI link.
FROM python:3.11-slim

RUN useradd --create-home --uid 1000 callcenter
WORKDIR /app
COPY pyproject.toml README.md ./
COPY callcenter ./callcenter
COPY ami ./ami
COPY web ./web
COPY config ./config
COPY recordings ./recordings
RUN pip install --no-cache-dir .

USER callcenter
EXPOSE 8080
CMD ["callcenter", "serve", "--host", "0.0.0.0", "--port", "8080"]

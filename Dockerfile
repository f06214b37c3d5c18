FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY bridge ./bridge
COPY channels ./channels
COPY storage ./storage
COPY emulators ./emulators
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home bridge && mkdir /data && chown bridge /data
USER bridge
ENV BRIDGE_DATABASE_URL=sqlite+aiosqlite:////data/bridge.db BRIDGE_HOST=0.0.0.0
EXPOSE 8080
CMD ["amo-bridge", "serve"]

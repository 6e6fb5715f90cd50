#!/usr/bin/env bash
# One command from a fresh clone: system packages, npm dependencies, native addon and TypeScript
# build, then `weightwatcher analyze` on a real model that an npm dependency ships (the face
# recognition network of @vladmandic/face-api, a TF.js ResNet).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci
npm run build
node dist/cli/main.js info
node dist/cli/main.js analyze node_modules/@vladmandic/face-api/model/face_recognition_model-weights_manifest.json

#!/usr/bin/env bash
# A demo registry on the embedded defaults: a local bare git remote as the team's shared
# copy, artifacts on file://. Everything lands in ./demo (git-ignored); rerun at will.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf demo && mkdir -p demo
cd demo
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

# A fresh machine may have no git identity; the demo commits as "gitreg demo" then.
if ! git config user.email >/dev/null; then
  export GIT_AUTHOR_NAME="gitreg demo" GIT_AUTHOR_EMAIL=demo@example.com
  export GIT_COMMITTER_NAME="gitreg demo" GIT_COMMITTER_EMAIL=demo@example.com
fi
git init -q --bare -b main remote.git
say gitreg init registry
git -C registry remote add origin "$PWD/remote.git"
git -C registry push -q origin main
export GITREG_REPO="$PWD/registry"

# A stand-in for a trained model: a folder with weights and a config.
mkdir -p train-output/fraud-detector
head -c 2000000 /dev/urandom > train-output/fraud-detector/weights.bin
echo '{"layers": 3}' > train-output/fraud-detector/config.json

say gitreg register fraud-detector train-output/fraud-detector \
    --metric val_auc=0.91 --param lr=0.01 --tag team=risk \
    --run-id run-001 --data-version 2026-10 --description "Gradient boosting, October data." \
    --push
head -c 1000 /dev/urandom >> train-output/fraud-detector/weights.bin   # "retrained"
say gitreg register fraud-detector train-output/fraud-detector --metric val_auc=0.93 --run-id run-002 --push
say gitreg transition fraud-detector 2 Staging --push
say gitreg alias set fraud-detector challenger 2 --push
say gitreg list
say gitreg show fraud-detector
say gitreg search "metrics.val_auc > 0.92 AND stage = 'Staging'"
say gitreg resolve models:/fraud-detector/Staging
say gitreg resolve models:/fraud-detector@challenger --json
say gitreg download models:/fraud-detector/Staging downloaded-model
say gitreg resolve models:/fraud-detector/latest --ref HEAD~2
say gitreg check
say gitreg history fraud-detector
# Production goes through a pull request, and gitreg.yaml's gates are judged first:
# v2 has not been 24 hours in Staging, so this is refused (and main is untouched).
say gitreg transition fraud-detector 2 Production || true
say git -C registry log --format='%h %an  %s'
printf '\nDemo registry in %s (shared remote: %s)\n' "$GITREG_REPO" "$PWD/remote.git"

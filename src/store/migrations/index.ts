import type { Migration } from "kysely";
import { core } from "./0001-core.js";
import { ledger } from "./0002-ledger.js";
import { energy } from "./0003-energy.js";
import { trust } from "./0004-trust.js";
import { audit } from "./0005-audit.js";
import { isolation } from "./0006-isolation.js";
import { leaderTerms } from "./0007-leader-terms.js";
import { preemption } from "./0008-preemption.js";
import { secrets } from "./0009-secrets.js";
import { usageReceived } from "./0010-usage-received.js";
import { widenReals } from "./0010-widen-reals.js";
import { gpuModels } from "./0013-gpu-models.js";
import { multinode } from "./0014-multinode.js";
import { units } from "./0015-units.js";
import { viewChanges } from "./0019-view-changes.js";
import { volumes } from "./0016-volumes.js";
import { instances } from "./0017-instances.js";
import { checkpointCopy } from "./0018-checkpoint-copy.js";
import type { MigrationContext } from "./context.js";

export type { MigrationContext } from "./context.js";

/** Numbered migrations; never edit a released one, add the next number. */
export function migrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0001_core": core(ctx),
    "0002_ledger": ledger(ctx),
    "0003_energy": energy(ctx),
    "0004_trust": trust(ctx),
    "0005_audit": audit(ctx),
    "0006_isolation": isolation(ctx),
    "0007_leader_terms": leaderTerms(ctx),
    "0008_preemption": preemption(ctx),
    "0009_secrets": secrets(ctx),
    "0010_usage_received": usageReceived(ctx),
    "0010_widen_reals": widenReals(ctx),
    "0013_gpu_models": gpuModels(ctx),
    "0014_multinode": multinode(ctx),
    "0015_units": units(ctx),
    "0019_view_changes": viewChanges(ctx),
    "0016_volumes": volumes(ctx),
    "0017_instances": instances(ctx),
    "0018_checkpoint_copy": checkpointCopy(ctx),
  };
}

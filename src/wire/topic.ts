/** Gossip topic and stream protocol names of the update protocol. */
import { SNAPSHOT_PROTOCOL, UPDATES_TOPIC_PREFIX, UPDATES_TOPIC_SUFFIX } from './constants.ts';
import { checkTaskId } from './schema.ts';

/** `/meshfl/1/<task-id>/updates`. Throws RangeError on an invalid task id. */
export function updatesTopic(taskId: string): string {
  checkTaskId(taskId);
  return `${UPDATES_TOPIC_PREFIX}${taskId}${UPDATES_TOPIC_SUFFIX}`;
}

export { SNAPSHOT_PROTOCOL };

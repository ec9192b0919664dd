import { EventDefinitionEntity } from '../modules/events/entities/event-definition.entity';
import { PlanDefinitionEntity } from '../modules/plans/entities/plan-definition.entity';

/** Every entity, listed as classes (no globs: they break between ts, dist and ESM jest). */
export const ENTITIES = [EventDefinitionEntity, PlanDefinitionEntity];

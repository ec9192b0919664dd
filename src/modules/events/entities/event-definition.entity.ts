import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** The stored shape of an event definition's content (SPEC section 2), without its key. */
export interface EventDefinitionConfig {
  displayName: string;
  description: string;
  category: string;
  baseCredits: number;
  endpoint: string | null;
  multipliers: {
    complexity: { min: number; max: number } | null;
    features: Record<string, number>;
  };
  limitKey: string | null;
  metadata: Record<string, unknown>;
}

@Entity({ name: 'event_definitions' })
export class EventDefinitionEntity {
  @PrimaryColumn({ name: 'event_type', type: 'text' })
  eventType: string;

  @Column({ type: 'text' })
  category: string;

  @Column({ name: 'is_active', type: 'boolean' })
  isActive: boolean;

  @Column({ type: 'integer' })
  version: number;

  @Column({ type: 'jsonb' })
  config: EventDefinitionConfig;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

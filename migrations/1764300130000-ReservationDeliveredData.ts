import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `reservations.delivered_data`: what a streamed call had delivered (its eventData: input and output so far)
 * when its hold was last extended. A hold whose host dies mid-stream is never settled; at its expiry it is
 * charged what this says was delivered instead of being given back whole, so a crash loses at most the
 * chunks sent since the last extension, never the whole stream.
 */
export class ReservationDeliveredData1764300130000 implements MigrationInterface {
  name = 'ReservationDeliveredData1764300130000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE reservations ADD COLUMN delivered_data jsonb`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE reservations DROP COLUMN delivered_data`);
  }
}

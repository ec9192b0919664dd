import { isMeteringError, UsageClient } from '@credit-metering/nest-client/client';

/** The client without Nest: a worker that charges a job once, whatever retries it goes through. */
async function main(): Promise<void> {
  const usage = new UsageClient({ baseUrl: process.env.METERING_URL!, apiKey: process.env.METERING_API_KEY! });
  const event = { eventType: 'structuring_diagnose', eventData: { complexity: 2 } };
  const quote = await usage.check(event);
  if (!quote.fits) return console.log(`does not fit: ${quote.reason}`);
  try {
    const charged = await usage.track({ ...event, idempotencyKey: 'job-42' });
    const period = await usage.summary();
    console.log(JSON.stringify({ credits: charged.creditsConsumed, duplicate: charged.duplicate, used: period.used }));
  } catch (error) {
    if (isMeteringError(error, 'CREDITS_EXHAUSTED')) return console.log('out of credits');
    throw error;
  }
}

void main();

import Big from 'big.js';

/** The stand-in LLM's price (llm_completion): 0.5 + 0.002 a prompt token + 0.008 an output token. */
export const llmPrice = (input: number, output: number): Big => new Big('0.5').plus(new Big(input).times('0.002')).plus(new Big(output).times('0.008'));
/** Credits as an answer shows them: rounded half up to hundredths. */
export const shown = (b: Big): number => Number(b.round(2, Big.roundHalfUp).toString());

export interface Sse {
  data: Array<Record<string, unknown>>;
  usage?: { creditsConsumed: number | null; units: Record<string, number>; stopReason: string };
}

/** The events of an SSE body: `data:` events, and the last `usage` event. */
export function parseSse(text: string): Sse {
  const out: Sse = { data: [] };
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    const event = /^event: (.*)$/m.exec(block)?.[1];
    const data = block
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6))
      .join('\n');
    if (event === 'usage') out.usage = JSON.parse(data);
    else out.data.push(JSON.parse(data));
  }
  return out;
}

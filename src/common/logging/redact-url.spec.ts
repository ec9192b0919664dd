import { describe, expect, it } from '@jest/globals';
import { redactUrl, requestSerializer } from './logger';

const PORTAL = `nxp_${'A'.repeat(43)}`;
const KEY = `nxk_${'b'.repeat(40)}`;

describe('redactUrl: tokens never reach a logged URL', () => {
  it.each([
    [`/api/organizations/o/usage?token=${PORTAL}`, '/api/organizations/o/usage?token=[redacted]'],
    [`/api/organizations/o/usage?portal=${PORTAL}&days=7`, '/api/organizations/o/usage?portal=[redacted]&days=7'],
    [`/x?apiKey=whatever-secret`, '/x?apiKey=[redacted]'],
    [`/x?api_key=whatever-secret&key=k2&ACCESS_TOKEN=t`, '/x?api_key=[redacted]&key=[redacted]&ACCESS_TOKEN=[redacted]'],
    [`/x?q=${KEY}`, '/x?q=[redacted]'],
    [`/x?q=nxk%5F${'c'.repeat(20)}`, '/x?q=[redacted]'],
    [`/x?note=see+${PORTAL}+here`, '/x?note=see+nxp_[redacted]+here'],
    [`/dashboard/${PORTAL}`, '/dashboard/nxp_[redacted]'],
    ['/api/organizations/o/usage?days=7&groupBy=day', '/api/organizations/o/usage?days=7&groupBy=day'],
    ['/health', '/health'],
    ['/x?token=', '/x?token='],
    ['/x?%E0%A4%A=1', '/x?%E0%A4%A=1'],
  ])('%s -> %s', (url, logged) => {
    expect(redactUrl(url)).toBe(logged);
  });

  it('is what the request serializer logs', () => {
    expect(requestSerializer({ method: 'GET', url: `/u?token=${PORTAL}`, host: 'h', ip: '127.0.0.1' })).toEqual({ method: 'GET', url: '/u?token=[redacted]', host: 'h', remoteAddress: '127.0.0.1', remotePort: undefined });
  });
});

import { describe, expect, it } from '@jest/globals';
import { toErrorBody } from './all-exceptions.filter';
import { DomainError } from './domain-error';
import { DomainHttpException, toHttpError } from './domain-http.exception';

describe('DomainHttpException (a domain error leaving metering code inside a host application)', () => {
  it.each([
    [new DomainError('CREDITS_EXHAUSTED', 'Not enough credits', { required: 25, remaining: 0 }), 402],
    [new DomainError('ORGANIZATION_NOT_FOUND', 'Organization "x" does not exist', { organizationId: 'x' }), 404],
    [new DomainError('VALIDATION_FAILED', 'Request validation failed', { fields: { body: ['must be an object'] } }), 400],
    [new DomainError('UNAUTHORIZED', 'This route needs the metering admin API key'), 401],
  ])('%s answers %i with the spec’s body, the one this service’s filter gives the DomainError', (domain, status) => {
    const http = toHttpError(domain) as DomainHttpException;
    expect(http).toBeInstanceOf(DomainHttpException);
    expect(http.getStatus()).toBe(status);
    // What Nest's own filter sends in a host (the response object as it is) is the error body of docs/api.md.
    expect(http.getResponse()).toEqual(toErrorBody(domain).body);
    expect(toErrorBody(http)).toEqual(toErrorBody(domain));
  });

  it('leaves every other error as it is', () => {
    const error = new Error('the model failed');
    expect(toHttpError(error)).toBe(error);
  });
});

import { ValidationError } from 'class-validator';
import { addFieldError, FieldErrors } from './domain-error';

/** Flattens class-validator's nested errors into `{ 'a.b[0].c': [messages] }`. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldErrors {
  const fields: FieldErrors = {};
  const visit = (list: ValidationError[], prefix: string) => {
    for (const error of list) {
      const path = /^\d+$/.test(error.property)
        ? `${prefix}[${error.property}]`
        : prefix
          ? `${prefix}.${error.property}`
          : error.property;
      if (error.constraints) {
        for (const message of Object.values(error.constraints)) addFieldError(fields, path, message);
      }
      if (error.children?.length) visit(error.children, path);
    }
  };
  visit(errors, parent);
  return fields;
}

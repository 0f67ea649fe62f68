export * from '../../local/stack/devices';

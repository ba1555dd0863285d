import { gossipBehaviour } from './behaviour.ts';
import { memoryImpl } from './harness.ts';

gossipBehaviour(memoryImpl);

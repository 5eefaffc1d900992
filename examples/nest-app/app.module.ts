import { Module } from '@nestjs/common';
import { ModelHostModule } from 'modelhost/nest';
import { materializeDemoRepository } from '../../scripts/demo-repository.js';
import { ClassifierService, ClassifyController, MODEL } from './classifier.js';
import { SETTINGS, SettingsModule, type Settings } from './settings.js';

export class AppModule {}

Module({
  imports: [
    ModelHostModule.forRootAsync({
      imports: [SettingsModule],
      inject: [SETTINGS],
      useFactory: async (settings: Settings) => {
        // The demo repository (examples/quickstart/models): written on first run.
        await materializeDemoRepository(settings.modelRepository);
        return {
          host: { repository: settings.modelRepository },
          load: [MODEL], // loaded and warmed up before the app listens
          http: { timeoutMs: 2000 },
        };
      },
      // KServe v2, TF Serving REST, /metrics and the status page under /ml
      controller: { path: 'ml' },
    }),
  ],
  providers: [ClassifierService],
  controllers: [ClassifyController],
})(AppModule);
